'use strict';
// Stand-in for nodejs/node test/common/tmpdir.js.
const fs = require('fs');
const os = require('os');
const path = require('path');
const tmpPath = path.join(os.tmpdir(), `.node-agent-tests.${process.pid}`);
module.exports = {
  path: tmpPath,
  refresh() {
    fs.rmSync(tmpPath, { recursive: true, force: true });
    fs.mkdirSync(tmpPath, { recursive: true });
  },
};
