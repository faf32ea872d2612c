#!/usr/bin/env node
// Runs `isolwatch run ARGS..` and drives it and the workload from each
// other's progress lines, so a case's judged window holds exactly the
// workload's measured work however slowly the (emulated) guest runs:
//   CMD: "ready ..."                               -> after SETTLE s, SIGUSR2 to run: warm-up over
//   run: "isolwatch run: warm-up over: ..."        -> "go" on CMD's stdin
//   CMD: "done ..."                                -> SIGUSR1 to run: the judged window ends
//   run: "isolwatch run: judged window over: ..."  -> close CMD's stdin (the
//                                                     workload exits on EOF, after the window)
// usage: drive-run.mjs ERRFILE SETTLE -- RUN-ARGS..   (CMD's stdout passes
// through; run's stderr is copied to ERRFILE; exits with run's status)
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [errFile, settle, dashdash, ...args] = process.argv.slice(2);
if (!errFile || !(Number(settle) >= 0) || dashdash !== '--' || args.length === 0) {
  process.stderr.write('usage: drive-run.mjs ERRFILE SETTLE -- RUN-ARGS..\n');
  process.exit(2);
}
const cli = join(dirname(fileURLToPath(import.meta.url)), '../../dist/src/cli.js');
const child = spawn(process.execPath, [cli, 'run', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
const log = createWriteStream(errFile);
child.stdin.on('error', () => {}); // the command may exit without reading
let windowOver = false;

/** Calls fn for every complete line of a stream, after copying the data to sink. */
function lines(stream, sink, fn) {
  let pending = '';
  stream.on('data', (d) => {
    sink.write(d);
    pending += d;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      fn(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
    }
  });
}

lines(child.stdout, process.stdout, (line) => {
  if (line.startsWith('ready ')) setTimeout(() => child.kill('SIGUSR2'), Number(settle) * 1000);
  else if (line.startsWith('done ') && !windowOver) child.kill('SIGUSR1');
});
lines(child.stderr, log, (line) => {
  if (line.startsWith('isolwatch run: warm-up over')) child.stdin.write('go\n');
  else if (line.startsWith('isolwatch run: judged window over')) {
    windowOver = true;
    child.stdin.end();
  }
});
child.on('close', (code, signal) => {
  child.stdin.end();
  process.exitCode = code ?? (signal ? 128 : 1); // and let node end by itself once the log is flushed
  log.end();
});
