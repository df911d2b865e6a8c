// Certificates for the TLS tests, made with openssl at test time (nothing checked in):
// a private CA, and leaf certificates signed by it or self-signed.
//
//   const certs = makeCerts();            // cached per process: openssl runs once
//   certs.ca                              // PEM of the private CA
//   certs.server   { key, cert }          // CN/SAN localhost, 127.0.0.1, ::1; signed by the CA
//   certs.other    { key, cert }          // SAN other.test only (wrong host for 127.0.0.1)
//   certs.expired  { key, cert }          // localhost/127.0.0.1, expired long ago (CA-signed)
//   certs.selfSigned { key, cert }        // localhost/127.0.0.1, self-signed
//   certs.client   { key, cert }          // client auth (mTLS), signed by the CA
//   certs.otherCa  PEM of a second CA that signed nothing here
//   certs.dir      where the PEM files are (removed when the process exits)
//
// BERTH_TEST_CERTS=<dir>: the files of an earlier makeCerts() are in <dir> (copied there
// before its process exited); read, not made, and not removed. scripts/test-windows.sh makes
// them on Linux this way for the tests under Windows Node, where there is no openssl.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

let cached;
const given = process.env.BERTH_TEST_CERTS;

function openssl(args, cwd) {
  if (given) return; // made already: leaf() and makeCa() only read their files
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function leaf(dir, name, { san, cn = 'localhost', ca = true, days = 30, start, end, clientAuth = false }) {
  if (given) return readLeaf(dir, name);
  const ext = path.join(dir, `${name}.ext`);
  fs.writeFileSync(
    ext,
    [
      'basicConstraints=CA:FALSE',
      'keyUsage=digitalSignature,keyEncipherment',
      `extendedKeyUsage=${clientAuth ? 'clientAuth' : 'serverAuth'}`,
      ...(san ? [`subjectAltName=${san}`] : []),
    ].join('\n'),
  );
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`], dir);
  openssl(['req', '-new', '-key', `${name}.key`, '-subj', `/CN=${cn}`, '-out', `${name}.csr`], dir);
  if (start !== undefined) {
    // `openssl ca` is the one command that takes explicit validity dates (an expired cert).
    const db = path.join(dir, `${name}-db`);
    fs.mkdirSync(db, { recursive: true });
    fs.writeFileSync(path.join(db, 'index.txt'), '');
    fs.writeFileSync(path.join(db, 'serial'), '1000\n');
    fs.writeFileSync(
      path.join(db, 'ca.cnf'),
      [
        '[ca]',
        'default_ca=berth',
        '[berth]',
        `dir=${db}`,
        'database=$dir/index.txt',
        'serial=$dir/serial',
        'new_certs_dir=$dir',
        'default_md=sha256',
        'policy=any',
        'unique_subject=no',
        '[any]',
        'commonName=supplied',
      ].join('\n'),
    );
    openssl(
      ['ca', '-batch', '-config', path.join(db, 'ca.cnf'), '-cert', 'ca.crt', '-keyfile', 'ca.key', '-in', `${name}.csr`,
        '-out', `${name}.crt`, '-startdate', start, '-enddate', end, '-extfile', ext, '-notext'],
      dir,
    );
  } else if (ca) {
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', String(days),
      '-extfile', ext, '-out', `${name}.crt`], dir);
  } else {
    openssl(['x509', '-req', '-in', `${name}.csr`, '-signkey', `${name}.key`, '-days', String(days), '-extfile', ext,
      '-out', `${name}.crt`], dir);
  }
  return readLeaf(dir, name);
}

function readLeaf(dir, name) {
  return {
    key: fs.readFileSync(path.join(dir, `${name}.key`), 'utf8'),
    cert: fs.readFileSync(path.join(dir, `${name}.crt`), 'utf8'),
    keyPath: path.join(dir, `${name}.key`),
    certPath: path.join(dir, `${name}.crt`),
  };
}

function makeCa(dir, name) {
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`], dir);
  openssl(['req', '-x509', '-new', '-key', `${name}.key`, '-subj', `/CN=berth test ${name}`, '-days', '30',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-out', `${name}.crt`], dir);
  return fs.readFileSync(path.join(dir, `${name}.crt`), 'utf8');
}

/** The test certificates (made once per process). */
export function makeCerts() {
  if (cached !== undefined) return cached;
  const dir = given || fs.mkdtempSync(path.join(os.tmpdir(), 'berth-certs-'));
  if (!given) process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const ca = makeCa(dir, 'ca');
  const otherCa = makeCa(dir, 'other-ca');
  const local = 'DNS:localhost,IP:127.0.0.1,IP:::1';
  cached = {
    dir,
    ca,
    caPath: path.join(dir, 'ca.crt'),
    otherCa,
    server: leaf(dir, 'server', { san: local }),
    other: leaf(dir, 'other', { san: 'DNS:other.test', cn: 'other.test' }),
    expired: leaf(dir, 'expired', { san: local, start: '20200101000000Z', end: '20200201000000Z' }),
    selfSigned: leaf(dir, 'self-signed', { san: local, ca: false }),
    client: leaf(dir, 'client', { cn: 'berth-client', clientAuth: true }),
  };
  return cached;
}
