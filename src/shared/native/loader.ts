/**
 * Loads the native engine: napi-rs's generated loader (the prebuilt binary for this
 * platform, or the one built from source in `native/`), with a message that says what to
 * install when no binary loads; and the argument block the hot functions share.
 */
import type * as Generated from '../../../native/index';

/**
 * The raw Node-API functions added beside the generated exports (crates/berth-node/src/hot.rs,
 * resource_hot.rs): napi-rs's generated wrappers cost ten times more per call, and even
 * reading arguments through Node-API costs more than the engine's work. They take their
 * arguments from, and leave their result in, the block `io`; the engine wrappers hide that.
 */
interface HotPath {
  /** The ArrayBuffer (IO_SLOTS doubles) the hot functions read and write: one per JS thread. */
  hotIo(): ArrayBuffer;
  acquire(): void;
  acquireWith(): void;
  release(): void;
  releaseWrote(): void;
  resAcquire(): void;
  resRelease(): void;
  resGauges(): void;
}

/** `glibc`, `musl` or `''` (not Linux): the libc half of a Linux platform package's name. */
function linuxLibc(): string {
  if (process.platform !== 'linux') return '';
  try {
    const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
    return report?.header?.glibcVersionRuntime ? 'glibc' : 'musl';
  } catch {
    return 'unknown libc';
  }
}

/** Prebuilt binaries published as optionalDependencies (package.json "napi.targets"). */
const PREBUILT = ['linux-x64-gnu', 'linux-arm64-gnu', 'linux-x64-musl', 'darwin-x64', 'darwin-arm64', 'win32-x64-msvc'];

/** The `berth-pool-<name>` this platform's binary comes in (napi-rs's platform naming). */
function platformName(libc: string): string {
  const abi =
    process.platform === 'linux' ? (libc === 'musl' ? '-musl' : '-gnu') : process.platform === 'win32' ? '-msvc' : '';
  return `${process.platform}-${process.arch}${abi}`;
}

/**
 * napi-rs's generated loader (native/index.js) picks `./berth.<platform>.node` (a build from
 * source) or the `berth-pool-<platform>` package; when neither loads it throws a generic error.
 * Say which platform was looked for and how to get a binary for it instead.
 */
function loadBinding(): unknown {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('../../../native/index.js');
  } catch (cause) {
    const libc = linuxLibc();
    const wanted = platformName(libc);
    const where = `${process.platform}/${process.arch}${libc ? ` (${libc})` : ''}`;
    const why = PREBUILT.includes(wanted)
      ? `the platform package berth-pool-${wanted} is not installed or did not load. ` +
        `Install it beside berth-pool: from the registry it comes as an optional dependency ` +
        `(do not omit optional dependencies); from local tarballs (npm run pack:local), install ` +
        `both in one command: npm install ./berth-pool-<version>.tgz ./berth-pool-${wanted}-<version>.tgz`
      : `no prebuilt binary is published for ${wanted} (prebuilt: ${PREBUILT.join(', ')})`;
    const error = new Error(
      `berth: no native binary for ${where}: ${why}. ` +
        'Or build from source: install a Rust ' +
        'toolchain (https://rustup.rs), then run `npm run build` in a checkout of berth ' +
        '(it writes native/berth.<platform>.node, which the loader prefers). ' +
        'NAPI_RS_NATIVE_LIBRARY_PATH=/path/to/berth.node loads a given binary.',
    );
    (error as Error & { cause?: unknown }).cause = cause;
    throw error;
  }
}

/** The binding: the generated exports (classes, constants, functions) and the hot path. */
export const binding = loadBinding() as typeof Generated & HotPath;

function hotIo(): Float64Array {
  const buffer: unknown = binding.hotIo();
  // Fails only out of memory, or on a runtime that forbids external ArrayBuffers (V8's
  // sandbox, as in Electron). Without the block every acquire would misread: refuse to load.
  if (!(buffer instanceof ArrayBuffer) || buffer.byteLength < IO_SLOTS * Float64Array.BYTES_PER_ELEMENT) {
    throw new Error('berth: the native module could not create its argument block (external ArrayBuffers unavailable?)');
  }
  return new Float64Array(buffer, 0, IO_SLOTS);
}

/** Doubles in the argument block (crates/berth-node/src/hot_io.rs SLOTS). */
const IO_SLOTS = 5;

/** The hot functions' argument block (shared by every engine on this thread). */
export const io = hotIo();
