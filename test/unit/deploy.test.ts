// deploy/: the manifests parse, run isolwatch with options that exist (the
// CLI's own parser judges them), ask for the capabilities isolwatch was
// measured to need and not for privileged, and every Prometheus or Grafana
// query names metrics isolwatch exports. (test/integration/serve.test.ts runs
// the dashboard's and the rules' queries against a real Prometheus.)
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { DEFAULT_LISTEN, parseArgs } from '../../src/cli-args.js';
import { HELP } from '../../src/output/metrics.js';
import { dashboardExprs, knownMetric as known, metricsIn, readDeploy as read } from '../helpers/deploy.js';

describe('the DaemonSet', () => {
  const docs = parseAllDocuments(read('daemonset.yaml'));
  for (const d of docs) expect(d.errors).toEqual([]);
  const objs = docs.map((d) => d.toJS()) as { kind: string; spec?: any; metadata: { name: string } }[];
  const ds = objs.find((o) => o.kind === 'DaemonSet')!;
  const pod = ds.spec.template;
  const c = pod.spec.containers[0];

  it('runs serve with options that exist, listening where its port and annotations say', () => {
    expect(objs.map((o) => o.kind)).toEqual(['Namespace', 'DaemonSet']);
    const cmd = parseArgs(c.args);
    expect(cmd.cmd).toBe('serve');
    if (cmd.cmd !== 'serve') return;
    expect(cmd.opts.listen).toEqual({ host: '0.0.0.0', port: DEFAULT_LISTEN.port });
    expect(c.ports[0].containerPort).toBe(DEFAULT_LISTEN.port);
    expect(pod.metadata.annotations['prometheus.io/port']).toBe(String(DEFAULT_LISTEN.port));
    expect(c.readinessProbe.httpGet.path).toBe('/healthz');
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
  });

  it('is not privileged: the host pid namespace, CAP_BPF, CAP_PERFMON, CAP_SYSLOG, the kernel BTF read-only', () => {
    expect(pod.spec.hostPID).toBe(true);
    expect(c.securityContext.privileged).toBe(false);
    expect(c.securityContext.capabilities).toEqual({ drop: ['ALL'], add: ['BPF', 'PERFMON', 'SYSLOG'] });
    expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
    const btf = c.volumeMounts.find((m: { mountPath: string }) => m.mountPath === '/sys/kernel/btf');
    expect(btf.readOnly).toBe(true);
    expect(pod.spec.volumes.find((v: { name: string }) => v.name === btf.name).hostPath.path).toBe('/sys/kernel/btf');
  });
});

describe('the systemd unit', () => {
  const unit = read('isolwatch.service');
  const values = (key: string) => [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]);

  it('runs serve with options that exist', () => {
    const [exec] = values('ExecStart');
    const argv = exec.split(/\s+/);
    expect(argv[0]).toMatch(/\/isolwatch$/);
    const cmd = parseArgs(argv.slice(1));
    expect(cmd).toMatchObject({ cmd: 'serve', opts: { listen: DEFAULT_LISTEN } });
  });

  it('not root: only the capabilities measured, and nothing that hides /proc/kallsyms', () => {
    expect(values('DynamicUser')).toEqual(['yes']);
    expect(values('AmbientCapabilities')).toEqual(['CAP_BPF CAP_PERFMON CAP_SYSLOG']);
    expect(values('CapabilityBoundingSet')).toEqual(['CAP_BPF CAP_PERFMON CAP_SYSLOG']);
    expect(values('ProtectKernelTunables')).toEqual([]);
    expect(values('KillSignal')).toEqual(['SIGTERM']);
  });
});

describe('the Containerfile', () => {
  const cf = read('Containerfile');
  const json = (instr: string) => JSON.parse(new RegExp(`^${instr} (\\[.*\\])$`, 'm').exec(cf)![1]) as string[];

  it('installs the npm package tarball and runs serve with options that exist', () => {
    expect(cf).toMatch(/^COPY isolwatch-\*\.tgz /m);
    expect(cf).toMatch(/npm install --global .*\/tmp\/isolwatch-\*\.tgz/);
    expect(cf).toMatch(/apt-get install .*libbpf1/);
    expect(json('ENTRYPOINT')).toEqual(['isolwatch']);
    expect(parseArgs(json('CMD'))).toMatchObject({ cmd: 'serve', opts: { listen: { host: '0.0.0.0', port: DEFAULT_LISTEN.port } } });
    expect(cf).toMatch(new RegExp(`^EXPOSE ${DEFAULT_LISTEN.port}$`, 'm'));
  });
});

describe('Prometheus configuration and rules', () => {
  it('scrape configurations parse and point at the default port', () => {
    const stat = parse(read('prometheus.yml'));
    expect(stat.scrape_configs[0].static_configs[0].targets).toEqual([`localhost:${DEFAULT_LISTEN.port}`]);
    const k8s = parse(read('prometheus-kubernetes.yml'));
    expect(k8s.scrape_configs[0].kubernetes_sd_configs[0].role).toBe('pod');
  });

  it('every rule names metrics that exist', () => {
    const rules = parse(read('isolwatch-rules.yml')) as { groups: { rules: { alert: string; expr: string }[] }[] };
    const exprs = rules.groups.flatMap((g) => g.rules.map((r) => r.expr));
    expect(exprs.length).toBeGreaterThan(0);
    for (const e of exprs) {
      expect(metricsIn(e).length, e).toBeGreaterThan(0);
      for (const m of metricsIn(e)) expect(known(m), `${m} in ${e}`).toBe(true);
    }
  });
});

describe('the Grafana dashboard', () => {
  const d = JSON.parse(read('grafana-dashboard.json')) as { uid: string; panels: { title: string; type: string }[]; templating: { list: { name: string }[] } };

  it('every query names metrics that exist, and only variables the dashboard defines', () => {
    const exprs = dashboardExprs();
    expect(exprs.length).toBeGreaterThan(10);
    const vars = new Set(d.templating.list.map((v) => v.name));
    for (const { panel, expr } of exprs) {
      expect(metricsIn(expr).length, `${panel}: ${expr}`).toBeGreaterThan(0);
      for (const m of metricsIn(expr)) expect(known(m), `${panel}: ${m}`).toBe(true);
      for (const [, v] of expr.matchAll(/\$(?!__)([a-z_]+)/g)) expect(vars.has(v), `${panel}: $${v}`).toBe(true);
    }
  });

  it('shows interruptions by class per CPU, stolen time, top causes and violations', () => {
    const exprs = dashboardExprs();
    const uses = (m: string) => exprs.some((e) => metricsIn(e.expr).includes(m));
    for (const m of ['isolwatch_interruptions_total', 'isolwatch_stolen_seconds_total', 'isolwatch_cause_interruptions_total', 'isolwatch_cause_stolen_seconds_total', 'isolwatch_violations_total']) {
      expect(uses(m), m).toBe(true);
    }
    expect(exprs.some((e) => /by \(instance, cpu, class\)/.test(e.expr) && metricsIn(e.expr).includes('isolwatch_interruptions_total'))).toBe(true);
  });
});

describe('what README and deploy/ say to run', () => {
  const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');

  it('every `isolwatch serve ...` command line parses (synopses with [optional] parts aside)', () => {
    const text = [readme, read('isolwatch.service'), read('daemonset.yaml'), read('Containerfile')].join('\n');
    const lines = [...text.matchAll(/(?:^|[\s`$#])isolwatch (serve(?: [^`\n|#]*)?)/gm)].map((m) => m[1].trim())
      // commands, not prose ("isolwatch serve as a systemd service") or synopses ("[--top N]")
      .filter((l) => (l === 'serve' || l.startsWith('serve --')) && !l.includes('['));
    expect(lines.length).toBeGreaterThan(3);
    for (const l of lines) expect(() => parseArgs(l.split(/\s+/)), l).not.toThrow();
  });

  it('README documents every metric with its HELP text, word for word', () => {
    for (const [name, help] of Object.entries(HELP)) {
      expect(readme, name).toContain(`\`${name}\``);
      expect(readme, `${name}'s HELP`).toContain(help);
    }
  });
});
