// Build: TypeScript (src, test, bench) to dist/, then the AssemblyScript SIMD kernel to
// dist/src/codec/simd-kernel.wasm. Fails on the first error.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`build: ${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
    process.exit(1);
  }
}

run('npx', ['--no-install', 'tsc', '-p', 'tsconfig.json']);
mkdirSync('dist/src/codec', { recursive: true });
run('npx', [
  '--no-install', 'asc', 'asm/simd-kernel.ts',
  '-O3', '--noAssert', '--runtime', 'stub',
  '--importMemory', '--sharedMemory', '--initialMemory', '2', '--maximumMemory', '65536',
  '--enable', 'simd,threads,bulk-memory',
  '-o', 'dist/src/codec/simd-kernel.wasm',
]);
