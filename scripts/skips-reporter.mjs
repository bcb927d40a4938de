// A node:test reporter beside spec: lists every skipped test or suite with its reason after the
// run, so a test left out for a missing tool (test/helpers/requirements.ts) shows in the summary.
import { relative } from 'node:path';

export default async function* skips(source) {
  const skipped = [];
  for await (const { type, data } of source) {
    if ((type === 'test:pass' || type === 'test:fail') && data.skip !== undefined && data.skip !== false) {
      const where = data.file ? `${relative(process.cwd(), data.file)}: ` : '';
      skipped.push(`#   ${where}${data.name}${typeof data.skip === 'string' ? ` # ${data.skip}` : ''}`);
    }
  }
  if (skipped.length > 0) yield `\n# skipped (${skipped.length}; with LIVEMIG_REQUIRE_ALL=1 a missing tool fails instead):\n${skipped.join('\n')}\n`;
}
