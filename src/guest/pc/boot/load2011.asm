; load2011: the load pattern of the 2011 XBRLE patch as a PC boot sector (NASM, -f bin).
;
; The 2011 patch's test load rewrote one byte in every page of a buffer, at a different
; offset in each page, by an amount that differs from page to page:
;     buf[i*4096 + ((1234 + i) & 4095)] += i        (a byte: mod 256)
; for page index i (0-based) in ascending order, pass after pass. Here the buffer is the
; region [1 MiB, end of RAM). SeaBIOS loads this sector at 0000:7C00; it
;   1. sets up COM1 (115200 8N1, no UART interrupts),
;   2. asks the BIOS how much RAM the machine has (int 15h, AX=E801h) while real mode can
;      still call the BIOS,
;   3. enables A20 and enters 32-bit protected mode with flat 4 GiB segments,
;   4. zeroes the region so every byte starts from a known value (SeaBIOS leaves
;      ~48 KB of its data just under the top of RAM), writes 'A' to COM1,
;   5. then forever: one pass of the pattern over the region, then 'B' to COM1.
; After n completed passes the byte of page i is (n * i) mod 256, except that pages before
; the one being written hold ((n + 1) * i) mod 256: what checkLoad2011Pattern verifies.
; The set-up and the end are shared with stride.asm (boot-start.inc, boot-end.inc).
;
; Speed in v86 0.5.462 on a 2-core VM (JIT, Node 20), steady state after boot:
;   load2011: ~1700 passes/s at 32 MiB (7936 pages) with the machine quiet, 930-1100 with the
; other core busy; ~260 passes/s at 128 MiB under load.

%include "boot-start.inc"

        ; zero the region: the pattern's bytes must start at 0 for "byte = passes * i"
        mov     edi, REGION_START
        mov     ecx, ebp
        sub     ecx, edi
        shr     ecx, 2
        xor     eax, eax
        rep     stosd

        mov     al, 'A'                 ; the pattern starts (QEMU's test prints 'A' too)
        call    putc

pass:
        mov     edi, REGION_START       ; EDI = page i's first byte
        xor     ebx, ebx                ; EBX = i, the page's index in the region
.page:
        lea     eax, [ebx + 1234]
        and     eax, PAGE_SIZE - 1      ; (1234 + i) & 4095: a different byte in each page
        add     [edi + eax], bl         ; += i, mod 256
        inc     ebx
        add     edi, PAGE_SIZE
        cmp     edi, ebp
        jb      .page
        mov     al, 'B'                 ; one full pass done
        call    putc
        jmp     pass

%include "boot-end.inc"
