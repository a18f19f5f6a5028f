// The package folder the build assembles is what `npm install <folder>` takes.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

test('npm installs the package folder into a project where require("mrt") works', () => {
  const project = mkdtempSync(path.join(tmpdir(), 'mrt-js-project-'));
  try {
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'app', private: true }));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--offline', process.env.MRT_NODE_PACKAGE],
      { cwd: project, stdio: 'ignore' });
    assert.ok(existsSync(path.join(project, 'node_modules', 'mrt', 'mrt.node')));
    const out = execFileSync(process.execPath, ['-e',
      "const mrt = require('mrt'); const k = mrt.PrivateKey.generate();"
      + " if (mrt.recover('x', mrt.sign(k, 'x')) !== k.address) process.exit(1);"
      + " console.log('ok')"], { cwd: project, encoding: 'utf8' });
    assert.equal(out.trim(), 'ok');
  } finally {
    rmSync(project, { recursive: true, force: true });
  }
});
