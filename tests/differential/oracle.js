// Test-time oracle: reads Preflight scenarios (JSON Lines) on stdin, decides each with
// @cloud-copilot/iam-simulate (AGPL-3.0, used only here, never linked or shipped), and writes one
// JSON line per scenario: {"decision": "Allow" | "ImplicitDeny" | "ExplicitDeny" | "Error", ...}. An
// "Error" line carries the oracle's message and, when it refused a policy, `problems`: one
// {"policy", "path", "message"} per validation error (the differential test checks each against the
// `oracleRejects` entries of divergences.json).
'use strict';
const readline = require('node:readline');
const { runSimulation } = require('@cloud-copilot/iam-simulate');

const DECISION = { Allowed: 'Allow', ImplicitlyDenied: 'ImplicitDeny', ExplicitlyDenied: 'ExplicitDeny' };

function simulation(s) {
  const req = s.request;
  const keyAccount = req.resource.split(':')[4];
  const context = {};
  for (const [k, v] of Object.entries(s.oracleContext || {})) context[k] = v;
  return {
    request: {
      principal: req.principal,
      action: req.action,
      resource: { resource: req.resource, accountId: keyAccount },
      contextVariables: context,
    },
    identityPolicies: (s.identityPolicies || []).map((policy, i) => ({ name: `identity policy ${i + 1}`, policy })),
    serviceControlPolicies: (s.scps || []).map((policy, i) => ({ orgIdentifier: `ou-level-${i + 1}`, policies: [{ name: `SCP ${i + 1}`, policy }] })),
    resourceControlPolicies: [],
    resourcePolicy: s.keyPolicy,
    permissionBoundaryPolicies: s.permissionsBoundary ? [{ name: 'permissions boundary', policy: s.permissionsBoundary }] : undefined,
  };
}

// The validation errors of a 'policy.errors' result, flattened: resourcePolicyErrors and
// sessionPolicyErrors are lists, the others map a policy name to a list.
function problems(errors) {
  const out = [];
  for (const [kind, value] of Object.entries(errors || {})) {
    if (kind === 'message' || value === null || typeof value !== 'object') continue;
    const named = Array.isArray(value) ? [[kind, value]] : Object.entries(value).map(([name, list]) => [`${kind} ${name}`, list]);
    for (const [policy, list] of named) {
      for (const e of [list].flat()) {
        out.push(typeof e === 'string' ? { policy, path: '', message: e } : { policy, path: e.path, message: e.message });
      }
    }
  }
  return out;
}

async function main() {
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  const started = process.hrtime.bigint();
  let n = 0;
  for await (const line of rl) {
    if (!line.trim()) continue;
    const s = JSON.parse(line);
    let out;
    try {
      const r = await runSimulation(simulation(s), {});
      out = r.resultType === 'error'
        ? { decision: 'Error', error: r.errors && (r.errors.message || JSON.stringify(r.errors)), problems: problems(r.errors) }
        : { decision: DECISION[r.overallResult] || r.overallResult };
    } catch (e) {
      out = { decision: 'Error', error: String(e), problems: [] };
    }
    process.stdout.write(JSON.stringify(out) + '\n');
    n++;
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  process.stderr.write(`iam-simulate: ${n} scenarios in ${ms.toFixed(0)} ms\n`);
}

main().catch((e) => { console.error(e); process.exit(1); });
