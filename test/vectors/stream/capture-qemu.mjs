// Captures a real QEMU migration stream for the stream tests (see README.md in this folder).
//
//   node test/vectors/stream/capture-qemu.mjs paused <out.mig>   # -S guest: nothing runs, one pass
//   node test/vectors/stream/capture-qemu.mjs xbzrle <out.mig>   # a boot sector dirtying 64 pages, XBZRLE on
//
// Talks QMP over a unix socket; no dependencies. Prints the final query-migrate as JSON.
import { spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const [mode, out] = process.argv.slice(2);
if ((mode !== 'paused' && mode !== 'xbzrle') || !out) {
  console.error('usage: capture-qemu.mjs paused|xbzrle <out.mig>');
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), 'livemig-qemu-'));
const sock = join(dir, 'qmp.sock');
const args = [
  '-M', 'pc-i440fx-7.2', '-m', '16M', '-nodefaults', '-nographic', '-display', 'none',
  '-accel', 'tcg', '-qmp', `unix:${sock},server=on,wait=off`,
];
if (mode === 'paused') args.push('-S');
if (mode === 'xbzrle') {
  // A boot sector that loops forever incrementing two bytes (offsets 0 and 0x823) of each of
  // the 64 pages at 0x10000..0x4ffff. Each sweep toggles CR0.WP, which flushes TCG's TLB:
  // without that, 7.2's TCG stops logging writes to pages whose TLB entries stay resident
  // after a dirty-bitmap sync, and the migration converges after two passes.
  //   xor ax,ax; mov ds,ax
  //   outer: mov eax,cr0; xor eax,0x10000; mov cr0,eax; mov bx,0x1000
  //   inner: mov es,bx; inc byte [es:0]; inc byte [es:0x823]; add bx,0x100; cmp bx,0x5000; jb inner
  //   jmp outer
  const code = [
    0x31, 0xc0, 0x8e, 0xd8,
    0x0f, 0x20, 0xc0, 0x66, 0x35, 0x00, 0x00, 0x01, 0x00, 0x0f, 0x22, 0xc0, 0xbb, 0x00, 0x10,
    0x8e, 0xc3, 0x26, 0xfe, 0x06, 0x00, 0x00, 0x26, 0xfe, 0x06, 0x23, 0x08,
    0x81, 0xc3, 0x00, 0x01, 0x81, 0xfb, 0x00, 0x50, 0x72, 0xea, 0xeb, 0xd9,
  ];
  const disk = new Uint8Array(64 * 1024);
  disk.set(code);
  disk[510] = 0x55;
  disk[511] = 0xaa;
  writeFileSync(join(dir, 'boot.img'), disk);
  args.push('-drive', `file=${join(dir, 'boot.img')},format=raw,if=ide`);
}
const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'inherit', 'inherit'] });

async function connect() {
  for (let i = 0; i < 100; i++) {
    try {
      return await new Promise((resolve, reject) => {
        const s = createConnection(sock, () => resolve(s));
        s.once('error', reject);
      });
    } catch {
      await sleep(50);
    }
  }
  throw new Error('no QMP socket');
}

const s = await connect();
let buf = '';
const waiting = [];
s.on('data', (d) => {
  buf += d.toString();
  let i;
  while ((i = buf.indexOf('\n')) >= 0) {
    const line = buf.slice(0, i);
    buf = buf.slice(i + 1);
    const msg = JSON.parse(line);
    if ('return' in msg || 'error' in msg) waiting.shift()(msg);
  }
});
function qmp(execute, args) {
  return new Promise((resolve, reject) => {
    waiting.push((m) => ('error' in m ? reject(new Error(`${execute}: ${m.error.desc}`)) : resolve(m.return)));
    s.write(JSON.stringify(args ? { execute, arguments: args } : { execute }) + '\n');
  });
}

await qmp('qmp_capabilities');
if (mode === 'xbzrle') {
  await sleep(1500); // let SeaBIOS boot the sector
  await qmp('migrate-set-capabilities', { capabilities: [{ capability: 'xbzrle', state: true }] });
  await qmp('migrate-set-parameters', { 'xbzrle-cache-size': 1024 * 1024, 'max-bandwidth': 4 * 1024 * 1024, 'downtime-limit': 1 });
}
await qmp('migrate', { uri: `exec:cat > ${out}` });
let info;
let raised = false;
const started = Date.now();
for (;;) {
  info = await qmp('query-migrate');
  if (info.status === 'completed' || info.status === 'failed') break;
  // The guest dirties 64 pages all the time, so with a 1 ms downtime limit the migration
  // keeps iterating; after a few XBZRLE passes, let it converge.
  if (mode === 'xbzrle' && !raised && ((info['xbzrle-cache']?.pages ?? 0) >= 256 || Date.now() - started > 5000)) {
    await qmp('migrate-set-parameters', { 'downtime-limit': 300 });
    raised = true;
  }
  await sleep(20);
}
console.log(JSON.stringify(info, null, 1));
await qmp('quit').catch(() => {});
await new Promise((r) => qemu.once('exit', r));
rmSync(dir, { recursive: true, force: true });
if (info.status !== 'completed') process.exit(1);
