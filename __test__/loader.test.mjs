// When no native binary loads, requiring berth fails with an error that names the platform,
// the arch and the libc, and says how to build from source. NAPI_RS_NATIVE_LIBRARY_PATH makes
// napi-rs's generated loader try only that path (a nonexistent file here), then its WASI
// fallbacks (none shipped): exactly what a user on a platform without a prebuilt package sees.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function requireBerth(env) {
  return spawnSync(process.execPath, ['-e', "require('./dist/index.js'); console.log('loaded')"], {
    cwd: root,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
}

test('no loadable binary: the error names the platform and says how to build from source', (t) => {
  const r = requireBerth({ NAPI_RS_NATIVE_LIBRARY_PATH: '/nonexistent/berth.does-not-exist.node' });
  t.not(r.status, 0);
  t.notRegex(r.stdout, /loaded/);
  const libc = process.platform === 'linux' ? (process.report.getReport().header.glibcVersionRuntime ? 'glibc' : 'musl') : '';
  t.true(r.stderr.includes(`berth: no native binary for ${process.platform}/${process.arch}`), r.stderr);
  if (libc) t.true(r.stderr.includes(`(${libc})`), r.stderr);
  t.regex(r.stderr, /build from source/);
  t.regex(r.stderr, /Rust toolchain/);
  t.regex(r.stderr, /`npm run build`/);
});

test('the same require loads when the binary is there', (t) => {
  const r = requireBerth({ NAPI_RS_NATIVE_LIBRARY_PATH: '' });
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /loaded/);
});

// process.platform replaced before the require: napi-rs's loader and berth's message both see
// the other platform, and no binary of it loads (NAPI_RS_NATIVE_LIBRARY_PATH names a file
// that does not exist, so not even a build of it in native/ is tried), exactly as on that
// platform without its package.
function requireBerthAs(platform) {
  const script = `Object.defineProperty(process, 'platform', { value: ${JSON.stringify(platform)} }); require('./dist/index.js'); console.log('loaded')`;
  return spawnSync(process.execPath, ['-e', script], {
    cwd: root,
    env: { ...process.env, NAPI_RS_NATIVE_LIBRARY_PATH: '/nonexistent/berth.does-not-exist.node' },
    encoding: 'utf8',
    timeout: 30_000,
  });
}

// Issue 19: Windows is a supported platform (berth-pool-win32-x64-msvc); the former "Windows is
// not supported" error is gone, and a missing binary there gets the same advice as elsewhere.
test('on Windows without its binary the error names berth-pool-win32-x64-msvc, as on other platforms', (t) => {
  const r = requireBerthAs('win32');
  t.not(r.status, 0);
  t.notRegex(r.stdout, /loaded/);
  t.notRegex(r.stderr, /not supported/);
  t.true(r.stderr.includes(`berth: no native binary for win32/${process.arch}`), r.stderr);
  if (process.arch === 'x64') {
    t.regex(r.stderr, /the platform package berth-pool-win32-x64-msvc is not installed or did not load/);
  } else {
    t.regex(r.stderr, new RegExp(`no prebuilt binary is published for win32-${process.arch}-msvc`));
  }
  t.regex(r.stderr, /`npm run build`/);
});

test('a platform without a prebuilt package: the error lists the prebuilt ones', (t) => {
  const r = requireBerthAs('freebsd');
  t.not(r.status, 0);
  t.regex(r.stderr, new RegExp(`no prebuilt binary is published for freebsd-${process.arch}`));
  t.regex(r.stderr, /prebuilt: linux-x64-gnu, linux-arm64-gnu, linux-x64-musl, darwin-x64, darwin-arm64, win32-x64-msvc\)/);
  t.regex(r.stderr, /`npm run build`/);
});
