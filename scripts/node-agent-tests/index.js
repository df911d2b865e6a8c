'use strict';
// A minimal stand-in for nodejs/node test/common: only what the http.Agent tests use.
const assert = require('assert');

const checks = [];
process.on('exit', (code) => {
  if (code !== 0) return;
  for (const c of checks) {
    const ok = c.exact ? c.actual === c.expected : c.actual >= c.expected;
    if (!ok) {
      console.error(`Mismatched ${c.name} function calls. Expected ${c.exact ? 'exactly' : 'at least'} ${c.expected}, actual ${c.actual}.\n${c.stack}`);
      process.exitCode = 1;
    }
  }
});

function noop() {}

function track(fn, expected, exact) {
  if (typeof fn === 'number') {
    expected = fn;
    fn = noop;
  }
  fn = fn || noop;
  const c = { name: fn.name || '<anonymous>', expected, exact, actual: 0, stack: new Error().stack.split('\n').slice(3).join('\n') };
  checks.push(c);
  const wrapped = function(...args) {
    c.actual++;
    return fn.apply(this, args);
  };
  Object.defineProperty(wrapped, 'length', { value: fn.length });
  return wrapped;
}

function mustCall(fn, exact = 1) {
  if (typeof fn === 'number') return track(noop, fn, true);
  return track(fn, exact, true);
}

function mustCallAtLeast(fn, minimum = 1) {
  if (typeof fn === 'number') return track(noop, fn, false);
  return track(fn, minimum, false);
}

function mustNotCall(msg) {
  const stack = new Error().stack;
  return function mustNotCall(...args) {
    assert.fail(`${msg || 'function should not have been called'}\n${stack}\nargs: ${args.map(String).join(', ')}`);
  };
}

function mustSucceed(fn, exact) {
  return mustCall(function(err, ...args) {
    assert.ifError(err);
    if (typeof fn === 'function') return fn.apply(this, args);
  }, exact);
}

function platformTimeout(ms) {
  return ms;
}

module.exports = {
  mustCall,
  mustCallAtLeast,
  mustNotCall,
  mustSucceed,
  platformTimeout,
  PORT: Number(process.env.NODE_COMMON_PORT || 12346),
  isWindows: process.platform === 'win32',
};
