; stride: QEMU's migration-test load as a PC boot sector (NASM, assembled with -f bin).
;
; SeaBIOS loads this sector at 0000:7C00 and jumps to it. It
;   1. sets up COM1 (115200 8N1, no UART interrupts),
;   2. asks the BIOS how much RAM the machine has (int 15h, AX=E801h) while real mode can
;      still call the BIOS,
;   3. enables A20 and enters 32-bit protected mode with flat 4 GiB segments,
;   4. zeroes the region [1 MiB, end of RAM) so every page starts from a known value
;      (SeaBIOS leaves ~48 KB of its data just under the top of RAM), writes 'A' to COM1,
;   5. then forever: increments byte 0 of every 4 KiB page of the region, in ascending
;      order, and writes 'B' to COM1 after each full pass.
; Byte 0 of every page is therefore (completed passes) mod 256, except that pages before
; the one being written are one pass ahead: what livemig's checkStridePattern verifies.
;
; Speed in v86 0.5.462 on a 2-core VM (JIT, Node 20), steady state after boot:
;   stride: ~3000 passes/s at 32 MiB (7936 pages) with the machine quiet, 1400-2400 with the
; other core busy; ~320 passes/s at 128 MiB under load. One `inc` per page.

%include "boot-start.inc"

        ; zero the region: byte 0 of each page must start at 0 for "byte 0 = passes"
        mov     edi, REGION_START
        mov     ecx, ebp
        sub     ecx, edi
        shr     ecx, 2
        xor     eax, eax
        rep     stosd

        mov     al, 'A'                 ; the pattern starts (QEMU's test prints 'A' too)
        call    putc

pass:
        mov     edi, REGION_START
.page:
        inc     byte [edi]
        add     edi, PAGE_SIZE
        cmp     edi, ebp
        jb      .page
        mov     al, 'B'                 ; one full pass done
        call    putc
        jmp     pass

%include "boot-end.inc"
