#!/usr/bin/env node
// Thin entry: parse -> run the command -> map errors to exit codes
// (DESIGN.md: 0 clean, 1 over budget / findings, 2 usage or configuration, 3 environment).
import { setFlagsFromString } from 'node:v8';
import { HELP, helpFor, parseArgs } from './cli-args.js';
import { EnvironmentError, UsageError } from './errors.js';
import { LibbpfError, PermissionError, VerifierError } from './libbpf/errors.js';
import { PolicyError } from './policy/errors.js';
import { SEMI_SPACE_MB } from './paths.js';

// A small young generation: isolwatch's garbage is short-lived records, and V8's default 16 MB
// semi-spaces were a quarter of its memory; 4 MB also decoded and wrote records faster than 2 or 16
// (bench/throughput.ts). Set here, before the heap grows: NODE_OPTIONS still overrides it.
if (!/--max-semi-space-size/.test(process.env.NODE_OPTIONS ?? '')) setFlagsFromString(`--max-semi-space-size=${SEMI_SPACE_MB}`);

async function main(argv: string[]): Promise<number> {
  const c = parseArgs(argv);
  switch (c.cmd) {
    case 'help':
      process.stdout.write(c.topic ? helpFor(c.topic) : HELP);
      return 0;
    case 'version': {
      const { versionText } = await import('./commands/version.js');
      process.stdout.write(versionText());
      return 0;
    }
    case 'doctor': {
      const { runDoctor } = await import('./doctor/index.js');
      return runDoctor({ root: c.opts.root, cpus: c.opts.cpus, json: c.opts.json, out: (s) => process.stdout.write(s) });
    }
    case 'report': {
      const { report } = await import('./commands/report.js');
      return report(c.opts);
    }
    case 'run': {
      const { run } = await import('./commands/run.js');
      return run(c.opts);
    }
    case 'serve': {
      const { serve } = await import('./commands/serve.js');
      return serve(c.opts);
    }
    case 'demo': {
      const { demo } = await import('./commands/demo.js');
      return demo(c.opts);
    }
    case 'watch':
    case 'record': {
      const { watch } = await import('./commands/watch.js');
      return watch({ ...c.opts, output: c.cmd === 'record' ? c.opts.output : undefined });
    }
  }
}

function exitCodeFor(e: unknown): { code: number; message: string } {
  if (e instanceof UsageError || e instanceof PolicyError) return { code: 2, message: e.message };
  if (e instanceof EnvironmentError) return { code: 3, message: e.message };
  if (e instanceof PermissionError) return { code: 3, message: e.message };
  if (e instanceof VerifierError) return { code: 3, message: `the kernel's verifier rejected isolwatch's BPF programs on this kernel:\n${e.message}` };
  if (e instanceof LibbpfError) return { code: 3, message: e.message };
  return { code: 1, message: e instanceof Error ? (e.stack ?? e.message) : String(e) };
}

// The reader of our output went away (`isolwatch watch --json | head`): stop as on Ctrl-C, on the
// normal path (final drain, detach), instead of dying of an unhandled EPIPE.
let stdoutGone = false;
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
  if (stdoutGone) return;
  stdoutGone = true;
  process.kill(process.pid, 'SIGINT');
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    const { code, message } = exitCodeFor(e);
    // messages that name their command already ("isolwatch run: ...") are not prefixed twice
    process.stderr.write(`${message.startsWith('isolwatch') ? '' : 'isolwatch: '}${message}\n`);
    process.exitCode = code;
  },
);
