'use strict';
// Preloaded (node --require) by scripts/node-agent-tests.sh: makes `http.Agent` (and
// `require('_http_agent').Agent`, which some of Node's tests use) berth's HttpAgent, so that
// Node's own http.Agent tests run unchanged against it. Callable without `new`, as http.Agent
// is, and extendable (`class X extends http.Agent`).
//
// The one difference from a bare `new HttpAgent(options)`: Node's default `keepAlive: false`
// is passed when a test does not set keepAlive (berth's agent defaults to true, it exists to
// keep connections alive), so tests written for http.Agent's defaults see http.Agent's defaults.
const path = require('node:path');
const http = require('node:http');
const httpAgentModule = require('_http_agent');
const { HttpAgent } = require(path.join(process.env.BERTH_ROOT || path.join(__dirname, '..', '..'), 'dist', 'index.js'));

class Agent extends HttpAgent {
  constructor(options) {
    super(options === undefined || options === null ? { keepAlive: false } : { keepAlive: false, ...options });
  }
}

const CallableAgent = new Proxy(Agent, {
  apply(target, _thisArg, args) {
    return new target(...args);
  },
});

http.Agent = CallableAgent;
httpAgentModule.Agent = CallableAgent;
