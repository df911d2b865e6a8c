// The HTTPS agent with real clients: https.request, axios 1, got 11, node-fetch 2 and
// superagent 10, against a Node https server (certificates made at test time) that resets every
// request on a reused connection. Every GET must succeed (verified, and retried on a fresh TLS
// connection).
import test from 'ava';
import https from 'node:https';
import { createRequire } from 'node:module';
import { createPool } from './helpers/pool.mjs';
import { makeCerts } from './helpers/tls-certs.mjs';
import { startHttpServer } from './fixtures/http-upstream.mjs';

const require = createRequire(import.meta.url);
const got = require('got');
const axios = require('axios');
const fetch = require('node-fetch');
const superagent = require('superagent');
const certs = makeCerts();
const REQUESTS = 40;

const clients = {
  'https.request': (agent, url) =>
    new Promise((resolve, reject) => {
      https
        .get(url, { agent }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (d) => (text += d)).on('end', () => resolve(JSON.parse(text)));
        })
        .on('error', reject);
    }),
  axios: async (agent, url) => (await axios.get(url, { httpsAgent: agent, timeout: 10_000, proxy: false })).data,
  got: (agent, url) => got(url, { agent: { https: agent }, retry: 0, timeout: 10_000 }).json(),
  'node-fetch': async (agent, url) => (await fetch(url, { agent })).json(),
  superagent: async (agent, url) => (await superagent.get(url).agent(agent).timeout(10_000)).body,
};

for (const [name, get] of Object.entries(clients)) {
  test(`${name}: ${REQUESTS} verified GETs against a TLS server that resets every request on a reused connection all succeed`, async (t) => {
    const server = await startHttpServer(t, { tls: { keyPath: certs.server.keyPath, certPath: certs.server.certPath } });
    const pool = createPool(t, { maxPerDestination: 4 });
    const agent = pool.httpsAgent({ ca: certs.ca });
    const failures = [];
    for (let i = 0; i < REQUESTS; i++) {
      try {
        const body = await get(agent, `https://${server.host}:${server.port}/reset-if-reused`);
        if (body.url !== '/reset-if-reused') throw new Error(`unexpected answer ${JSON.stringify(body)}`);
      } catch (error) {
        failures.push(error.code ?? error.message);
      }
    }
    t.deepEqual(failures, [], `${failures.length} of ${REQUESTS} GETs failed`);
    const stats = await server.stats();
    t.is(stats.forgotten, REQUESTS - 1, 'every request after the first met a reused connection and was retried');
    t.true(pool.stats().connect.tlsFull + pool.stats().connect.tlsResumed >= REQUESTS, 'TLS connections, one per request');
  });
}

test('a client\'s failure to verify is the BerthError TLS_FAILED with Node\'s cause (axios, got)', async (t) => {
  const server = await startHttpServer(t, { tls: { keyPath: certs.other.keyPath, certPath: certs.other.certPath } });
  const pool = createPool(t);
  const agent = pool.httpsAgent({ ca: certs.ca });
  const url = `https://${server.host}:${server.port}/`;
  // Caught here (axios's error does not serialise for ava's report): axios copies the agent's
  // error's code and cause onto its own, got keeps the code.
  const a = await clients.axios(agent, url).then(() => null, (error) => error);
  t.is(a?.code, 'TLS_FAILED');
  t.is(a?.cause?.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
  const g = await clients.got(agent, url).then(() => null, (error) => error);
  t.is(g?.code, 'TLS_FAILED');
});
