// Module hooks (node:module register) that add coverage counters and comparison tracing to
// livemig's built code, with the Babel plugins of @jazzer.js/instrumentor: the same edges
// Jazzer.js instruments. Only the jazzer.js *instrumentation* is used; its libFuzzer engine is
// a native addon that does not load on every machine (its prebuilt needs glibc 2.38), so
// fuzz/engine.mjs drives the instrumented code itself.
//
// Each instrumented module starts with
//   const __jazzer_cov = Fuzzer.coverageTracker.createModuleCounters(<edges>);
// and calls Fuzzer.tracer.traceNumberCmp/traceStrCmp/traceAndReturn at comparisons with
// literals; globalThis.Fuzzer is provided by the engine before the targets are imported.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { transformSync } = require('@babel/core');
const { esmCodeCoverage } = require('@jazzer.js/instrumentor/dist/plugins/esmCodeCoverage.js');
const { compareHooks } = require('@jazzer.js/instrumentor/dist/plugins/compareHooks.js');

let includes = [];

export function initialize(data) {
  includes = data.includes;
}

export async function load(url, context, nextLoad) {
  const result = await nextLoad(url, context);
  if (result.format !== 'module' || !result.source || !url.startsWith('file://')) return result;
  const filename = fileURLToPath(url);
  if (!includes.some((p) => filename.startsWith(p))) return result;
  const code = typeof result.source === 'string' ? result.source : Buffer.from(result.source).toString('utf8');
  const coverage = esmCodeCoverage();
  const out = transformSync(code, { filename, plugins: [coverage.plugin, compareHooks], sourceType: 'module', sourceMaps: false, compact: false, babelrc: false, configFile: false });
  const edges = coverage.edgeCount();
  if (!out?.code || edges === 0) return result;
  return { ...result, source: `const __jazzer_cov = Fuzzer.coverageTracker.createModuleCounters(${edges}, ${JSON.stringify(filename)});\n${out.code}` };
}
