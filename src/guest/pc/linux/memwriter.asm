; livemig's Linux guest workload: a static i386 Linux ELF with no libc, built with
;   nasm -f bin -o memwriter memwriter.asm
; (the ELF and program headers are written by hand below, so nasm is the only tool needed).
;
; It maps a BUF_MIB MiB anonymous buffer and rewrites it forever, one pass after another:
;   - dword 0 of every page holds the number of passes done so far; each pass first checks
;     that value (a migration that lost or staled a page shows up as a mismatch, which is
;     printed as "livemig-memwriter: page P holds X, expected Y" before exiting with 1),
;     then stores the next one;
;   - one byte at a 64-byte-aligned offset that moves with the pass is incremented, so a page's
;     successive versions differ in two places (a sparse writer, the kind XBZRLE helps).
; Between passes it reads CLOCK_MONOTONIC and, once every second, writes
; "livemig-counter N\n" to stdout (the console, i.e. the serial port), N = 0, 1, 2, ...
; After a stall (a paused guest) it resumes a second after the current time instead of
; printing the missed lines in a burst.
;
; i386 syscalls through int 0x80: number in eax, arguments in ebx, ecx, edx, esi, edi, ebp;
; every register but eax is preserved.

BITS 32
ORG 0x08048000

BUF_MIB         equ 16
PAGE_SIZE       equ 4096
BUF_SIZE        equ BUF_MIB * 1024 * 1024
PAGES           equ BUF_SIZE / PAGE_SIZE

SYS_exit        equ 1
SYS_write       equ 4
SYS_mmap2       equ 192
SYS_clock_gettime equ 265       ; 32-bit timespec; fine until 2038
CLOCK_MONOTONIC equ 1
NSEC_PER_SEC    equ 1000000000

; ---- ELF header (52 bytes) and program headers (32 bytes each) ----
ehdr:
    db 0x7f, 'E', 'L', 'F'
    db 1                        ; ELFCLASS32
    db 1                        ; ELFDATA2LSB
    db 1                        ; EV_CURRENT
    db 0                        ; ELFOSABI_SYSV
    times 8 db 0
    dw 2                        ; e_type: ET_EXEC
    dw 3                        ; e_machine: EM_386
    dd 1                        ; e_version
    dd _start                   ; e_entry
    dd phdrs - $$               ; e_phoff
    dd 0                        ; e_shoff: no sections
    dd 0                        ; e_flags
    dw ehdr_size                ; e_ehsize
    dw phdr_size                ; e_phentsize
    dw 2                        ; e_phnum
    dw 0, 0, 0                  ; e_shentsize, e_shnum, e_shstrndx
ehdr_size equ $ - ehdr

phdrs:
    ; the whole file, read + execute: the only writable memory is the stack and the mmap
    dd 1                        ; PT_LOAD
    dd 0                        ; p_offset
    dd $$                       ; p_vaddr
    dd $$                       ; p_paddr
    dd file_size                ; p_filesz
    dd file_size                ; p_memsz
    dd 5                        ; PF_R | PF_X
    dd 0x1000                   ; p_align
phdr_size equ $ - phdrs
    ; a non-executable stack; without this entry the i386 kernel makes every readable
    ; mapping executable (READ_IMPLIES_EXEC)
    dd 0x6474e551               ; PT_GNU_STACK
    dd 0, 0, 0, 0, 0
    dd 6                        ; PF_R | PF_W
    dd 16

; ---- stack frame (esp-relative; nothing else is writable) ----
NOW_SEC         equ 0           ; timespec filled by clock_gettime
NOW_NSEC        equ 4
NEXT_SEC        equ 8           ; when the next counter line is due
NEXT_NSEC       equ 12
COUNTER         equ 16          ; the N of the next line
BUF             equ 20          ; the mmap'd buffer
PASS            equ 24          ; passes done
TEXT            equ 32          ; line being formatted (64 bytes)
FRAME           equ 96

_start:
    sub esp, FRAME

    mov ecx, msg_start
    mov edx, msg_start_len
    call write_out

    ; mmap2(NULL, BUF_SIZE, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_POPULATE, -1, 0):
    ; populated up front, so the first pass is not 4096 page faults (seconds in v86) late
    mov eax, SYS_mmap2
    xor ebx, ebx
    mov ecx, BUF_SIZE
    mov edx, 3
    mov esi, 0x8022
    mov edi, -1
    xor ebp, ebp
    int 0x80
    cmp eax, -4095              ; -1 .. -4095 are errnos
    jae .mmap_failed
    mov [esp + BUF], eax
    mov dword [esp + PASS], 0
    mov dword [esp + COUNTER], 0

    ; the first line is due now
    call read_clock
    mov eax, [esp + NOW_SEC]
    mov [esp + NEXT_SEC], eax
    mov eax, [esp + NOW_NSEC]
    mov [esp + NEXT_NSEC], eax
    jmp .check

.pass:
    mov ebx, [esp + BUF]
    mov edx, [esp + PASS]       ; what every page must hold
    lea esi, [edx + 1]          ; what it holds after this pass
    mov edi, edx                ; this pass's moving byte: offset 64 * (1 + pass mod 63)
    and edi, 63
    cmp edi, 63
    jne .offset_ok
    xor edi, edi
.offset_ok:
    inc edi
    shl edi, 6
    mov ecx, PAGES
.page:
    cmp [ebx], edx
    jne .corrupt
    mov [ebx], esi
    inc byte [ebx + edi]
    add ebx, PAGE_SIZE
    dec ecx
    jnz .page
    mov [esp + PASS], esi

    ; a counter line due? (now >= next)
.check:
    call read_clock
    mov eax, [esp + NOW_SEC]
    cmp eax, [esp + NEXT_SEC]
    jl .pass
    jg .due
    mov eax, [esp + NOW_NSEC]
    cmp eax, [esp + NEXT_NSEC]
    jl .pass
.due:
    ; "livemig-counter N\n"
    lea edi, [esp + TEXT]
    mov esi, msg_counter
    mov ecx, msg_counter_len
    rep movsb
    mov eax, [esp + COUNTER]
    call put_decimal
    mov byte [edi], 10
    inc edi
    lea ecx, [esp + TEXT]
    mov edx, edi
    sub edx, ecx
    call write_out
    inc dword [esp + COUNTER]

    ; next += 1 s; after a stall, next = now + 1 s instead (no burst of missed lines)
    inc dword [esp + NEXT_SEC]
    mov eax, [esp + NEXT_SEC]
    cmp eax, [esp + NOW_SEC]
    jg .pass
    jl .resync
    mov eax, [esp + NEXT_NSEC]
    cmp eax, [esp + NOW_NSEC]
    jg .pass
.resync:
    mov eax, [esp + NOW_SEC]
    inc eax
    mov [esp + NEXT_SEC], eax
    mov eax, [esp + NOW_NSEC]
    mov [esp + NEXT_NSEC], eax
    jmp .pass

.corrupt:
    ; ebx: the page, edx: the value expected
    push edx
    push dword [ebx]
    mov eax, ebx
    sub eax, [esp + 8 + BUF]
    shr eax, 12
    push eax
    lea edi, [esp + 12 + TEXT]
    mov esi, msg_corrupt
    mov ecx, msg_corrupt_len
    rep movsb
    pop eax                     ; page index
    call put_decimal
    mov esi, msg_holds
    mov ecx, msg_holds_len
    rep movsb
    pop eax                     ; found
    call put_decimal
    mov esi, msg_expected
    mov ecx, msg_expected_len
    rep movsb
    pop eax                     ; expected
    call put_decimal
    mov byte [edi], 10
    inc edi
    lea ecx, [esp + TEXT]
    mov edx, edi
    sub edx, ecx
    call write_out
    mov ebx, 1
    jmp exit

.mmap_failed:
    mov ecx, msg_mmap
    mov edx, msg_mmap_len
    call write_out
    mov ebx, 2
    jmp exit

; exit(ebx)
exit:
    mov eax, SYS_exit
    int 0x80

; write(1, ecx, edx); a failed write is ignored (nowhere else to report it)
write_out:
    push ebx
    mov eax, SYS_write
    mov ebx, 1
    int 0x80
    pop ebx
    ret

; clock_gettime(CLOCK_MONOTONIC, caller's frame + NOW_SEC)
read_clock:
    push ebx
    push ecx
    mov eax, SYS_clock_gettime
    mov ebx, CLOCK_MONOTONIC
    lea ecx, [esp + 12 + NOW_SEC] ; past the return address and the two saved registers
    int 0x80
    pop ecx
    pop ebx
    ret

; writes eax as unsigned decimal at edi, advancing edi; clobbers eax, ecx, edx
put_decimal:
    push ebx
    mov ebx, 10
    xor ecx, ecx
.divide:                        ; digits come out least significant first: push them
    xor edx, edx
    div ebx
    add dl, '0'
    push edx
    inc ecx
    test eax, eax
    jnz .divide
.emit:
    pop eax
    mov [edi], al
    inc edi
    dec ecx
    jnz .emit
    pop ebx
    ret

msg_start:      db "livemig-memwriter: rewriting ", '0' + BUF_MIB / 10, '0' + BUF_MIB % 10, " MiB, a counter line every second", 10
msg_start_len   equ $ - msg_start
msg_counter:    db "livemig-counter "
msg_counter_len equ $ - msg_counter
msg_corrupt:    db "livemig-memwriter: page "
msg_corrupt_len equ $ - msg_corrupt
msg_holds:      db " holds "
msg_holds_len   equ $ - msg_holds
msg_expected:   db ", expected "
msg_expected_len equ $ - msg_expected
msg_mmap:       db "livemig-memwriter: mmap failed", 10
msg_mmap_len    equ $ - msg_mmap

file_size equ $ - $$
