// `mrt serve` as a child process for the node scripts (interop tests and the js-sdk benchmark):
// started on 127.0.0.1 port 0, ready once it prints its "listening on" line, stopped with
// SIGTERM.
//
//   const server = startServer(mrtPath, dataDir, { serverName: 'localhost', args: [...] });
//   const baseUrl = await server.ready;       // "http://127.0.0.1:PORT"
//   ...
//   console.error(server.tail(20));           // the last lines of its stderr, on failure
//   await server.stop();
import { spawn } from 'node:child_process';

export function startServer(mrt, dataDir, { serverName = 'localhost', args = [], timeoutMs = 15000 } = {}) {
  const child = spawn(mrt, ['serve', '--server-name', serverName, '--listen', '127.0.0.1:0',
                            '--data', dataDir, ...args],
                      { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = [];
  child.stderr.on('data', (d) => log.push(d.toString()));
  const listening = new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d.toString();
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`mrt serve exited with ${code}: ${log.join('')}`)));
  });
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`mrt serve did not listen within ${timeoutMs} ms`)),
                       timeoutMs);
  });
  const ready = Promise.race([listening, timeout]).finally(() => clearTimeout(timer));
  return {
    child,
    log,
    ready,
    tail: (lines) => log.join('').split('\n').slice(-lines).join('\n'),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.on('exit', r));
    },
  };
}
