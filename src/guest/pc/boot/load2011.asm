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
; The set-up is the same as stride.asm's (kept in each file so each is one sector).
;
; Speed in v86 0.5.462 on a 2-core VM (JIT, Node 20), steady state after boot:
;   load2011: ~1700 passes/s at 32 MiB (7936 pages) with the machine quiet, 930-1100 with the
; other core busy; ~260 passes/s at 128 MiB under load.

        bits    16
        org     0x7c00

COM1            equ     0x3f8
REGION_START    equ     0x100000        ; 1 MiB: above the BIOS, the IVT and this sector
PAGE_SIZE       equ     4096
STACK_TOP       equ     0x7c00          ; grows down, below this sector

start:
        cli                             ; nothing here handles interrupts
        jmp     0:.flat                 ; some BIOSes enter at 07C0:0000; org wants CS = 0
.flat:
        xor     ax, ax
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        mov     sp, STACK_TOP
        cld

        ; COM1: divisor 1 (115200 baud), then 8N1 with the divisor latch closed, no
        ; interrupts. The minimum a real 16550 needs; v86 prints whatever reaches THR.
        mov     dx, COM1 + 3            ; LCR
        mov     al, 0x80                ; DLAB: ports +0/+1 are the divisor
        out     dx, al
        mov     dx, COM1
        mov     al, 1
        out     dx, al
        inc     dx
        xor     al, al
        out     dx, al
        mov     dx, COM1 + 3
        mov     al, 0x03                ; 8 data bits, no parity, 1 stop bit, DLAB off
        out     dx, al
        mov     dx, COM1 + 1            ; IER (DLAB off): no UART interrupts
        xor     al, al
        out     dx, al

        ; RAM size: E801 gives KiB between 1 and 16 MiB (AX or CX) and 64 KiB blocks
        ; above 16 MiB (BX or DX); some BIOSes fill only CX/DX, SeaBIOS fills both.
        xor     cx, cx
        xor     dx, dx
        mov     ax, 0xe801
        int     0x15
        cli                             ; the BIOS may have set IF
        jc      no_e801
        jcxz    .use_ax_bx
        mov     ax, cx
        mov     bx, dx
.use_ax_bx:
        movzx   eax, ax
        shl     eax, 10
        movzx   ebx, bx
        shl     ebx, 16
        ; A BIOS may report RAM only up to tables it keeps at the top (SeaBIOS: its
        ; LegacyRamSize; in v86 it reports all of it), a little under the machine's RAM;
        ; machines have whole MiB of RAM, so round up to a MiB to cover all of it (the guest
        ; never returns to the BIOS: its tables are not needed).
        lea     ebp, [eax + ebx + REGION_START + 0xfffff]
        and     ebp, 0xfff00000         ; EBP = end of RAM, kept in a register throughout

        ; A20 through the "fast A20" port, so odd MiB are not aliases of even ones
        ; (bit 0 would reset the machine: keep it clear).
        in      al, 0x92
        or      al, 2
        and     al, 0xfe
        out     0x92, al

        lgdt    [gdt_descriptor]
        mov     eax, cr0
        or      al, 1                   ; PE
        mov     cr0, eax
        jmp     CODE_SEL:protected      ; far jump loads CS and leaves 16-bit decoding

no_e801:                                ; no RAM size, no pattern: say so and stop
        mov     dx, COM1
        mov     al, 'E'
        out     dx, al
.halt:
        hlt
        jmp     .halt

        bits    32
protected:
        mov     ax, DATA_SEL
        mov     ds, ax
        mov     es, ax
        mov     fs, ax
        mov     gs, ax
        mov     ss, ax
        mov     esp, STACK_TOP

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

; Writes AL to COM1 once the transmit holding register is empty. Clobbers AH, DX.
putc:
        mov     ah, al
        mov     dx, COM1 + 5            ; LSR
.wait:
        in      al, dx
        test    al, 0x20                ; THRE
        jz      .wait
        mov     dx, COM1
        mov     al, ah
        out     dx, al
        ret

; Flat segments: base 0, limit 4 GiB (4 KiB granularity), 32-bit.
        align   8
gdt:
        dq      0                       ; the null descriptor
CODE_SEL equ    $ - gdt
        dq      0x00cf9a000000ffff      ; code: present, ring 0, execute/read
DATA_SEL equ    $ - gdt
        dq      0x00cf92000000ffff      ; data: present, ring 0, read/write
gdt_end:
gdt_descriptor:
        dw      gdt_end - gdt - 1       ; limit: size of the table - 1
        dd      gdt

        times   510 - ($ - $$) db 0
        dw      0xaa55                  ; boot signature
