// Build: TypeScript (src, test, bench) to dist/, then the AssemblyScript SIMD kernel to
// dist/src/codec/simd-kernel.wasm (and, on a private memory, simd-kernel-private.wasm), the in-place fill scanner to dist/src/codec/fill-scan.wasm and the
// in-place page128 hasher to dist/src/codec/page-hash.wasm, the in-place copy to dist/src/codec/ram-copy.wasm.
// Fails on the first error.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync } from 'node:fs';

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`build: ${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
    process.exit(1);
  }
}

run('npx', ['--no-install', 'tsc', '-p', 'tsconfig.json']);
// the `livemig` bin: tsc writes it without the executable bit, and `npx livemig` runs it
// through the shell (npm sets the bit when it links a bin, but not again for a cached link)
chmodSync('dist/src/cli/main.js', 0o755);
mkdirSync('dist/src/codec', { recursive: true });
const asc = (entry, out, initialPages, ...extra) => run('npx', [
  '--no-install', 'asc', entry, ...extra,
  '-O3', '--noAssert', '--runtime', 'stub',
  '--importMemory', '--sharedMemory', '--initialMemory', String(initialPages), '--maximumMemory', '65536',
  '--enable', 'simd,threads,bulk-memory',
  '-o', out,
]);
asc('asm/simd-kernel.ts', 'dist/src/codec/simd-kernel.wasm', 2);
// The same kernel on a small private (unshared) memory: pages given as plain Uint8Arrays are
// copied into it, and copying into unshared memory is a memcpy (into shared memory V8 copies
// a word at a time, 2.5x slower).
run('npx', [
  '--no-install', 'asc', 'asm/simd-kernel.ts',
  '-O3', '--noAssert', '--runtime', 'stub',
  '--importMemory', '--initialMemory', '2', '--maximumMemory', '2',
  '--enable', 'simd,bulk-memory',
  '-o', 'dist/src/codec/simd-kernel-private.wasm',
]);
// the in-place scanner runs on guest RAM: it must not carry data that instantiation would write there
// so do the page128 hasher (page-hash.wasm) and the in-place copy (ram-copy.wasm); each also on an unshared memory of any size
// (*-unshared.wasm: a PC's RAM lies inside v86's own WebAssembly.Memory)
for (const name of ['fill-scan', 'page-hash', 'ram-copy']) {
  const out = `dist/src/codec/${name}.wasm`;
  asc(`asm/${name}.ts`, out, 0, '--noExportMemory');
  const unshared = `dist/src/codec/${name}-unshared.wasm`;
  run('npx', [
    '--no-install', 'asc', `asm/${name}.ts`, '--noExportMemory',
    '-O3', '--noAssert', '--runtime', 'stub',
    '--importMemory', '--initialMemory', '0',
    '--enable', 'simd,bulk-memory',
    '-o', unshared,
  ]);
  for (const file of [out, unshared]) {
    const scanner = new WebAssembly.Module(readFileSync(file));
    if (WebAssembly.Module.exports(scanner).some((e) => e.kind === 'memory') || hasDataSection(readFileSync(file))) {
      console.error(`build: ${file} has a data segment or exports memory; it would write guest RAM`);
      process.exit(1);
    }
  }
}

/** True when the module has a data section (id 11) or a data-count section (id 12). */
function hasDataSection(bytes) {
  let at = 8; // magic + version
  while (at < bytes.length) {
    const id = bytes[at++];
    let size = 0;
    for (let shift = 0; ; shift += 7) {
      const b = bytes[at++];
      size |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) break;
    }
    if (id === 11 || id === 12) return true;
    at += size;
  }
  return false;
}

// The PC boot-sector guests ship beside the code that loads them (dist/src/guest/pc/boot/).
const { copyFileSync, readdirSync } = await import('node:fs');
mkdirSync('dist/src/guest/pc/boot', { recursive: true });
for (const name of readdirSync('src/guest/pc/boot').filter((n) => n.endsWith('.img'))) {
  copyFileSync(`src/guest/pc/boot/${name}`, `dist/src/guest/pc/boot/${name}`);
}
