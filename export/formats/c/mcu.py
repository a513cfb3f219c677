"""The Cortex-M4 side of the C format: the footprint of model.o, and the test program under qemu.

    mcu.footprint(Path("b/model.c"), "model.h")                    # flash, stack, RAM in bytes
    mcu.run_on_qemu(Path("b"), "model.c", "model.h", "model_test.c")  # the test program's output line

Both need arm-none-eabi-gcc (Debian: gcc-arm-none-eabi libnewlib-arm-none-eabi); the qemu run needs
qemu-system-arm. The firmware is linked for qemu's mps2-an386 (a Cortex-M4 with FPU) with the vector
table and linker script below and newlib's semihosting library (rdimon) for printf and the exit code.
Flash is .text + .rodata of model.o at -Os; stack is the deepest call path GCC's -fcallgraph-info
reports from P_predict (its own state on its stack) and from P_step (plus the caller's state).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from edgernn.runtime.backends.c import CFLAGS
from edgernn.runtime.errors import ExportError

ARM_GCC, ARM_SIZE, QEMU = "arm-none-eabi-gcc", "arm-none-eabi-size", "qemu-system-arm"
CPU = ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-Os")
QEMU_ARGS = ("-M", "mps2-an386", "-nographic", "-semihosting", "-monitor", "none", "-serial", "none")
QEMU_SECONDS = 120
INSTALL = "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"

STARTUP = """\
/* Cortex-M4 start for qemu mps2-an386: vector table, FPU on, then newlib's _start (bss, main, exit). */
extern unsigned long __stack_top;
extern void _start(void);
void reset_handler(void);
static void fault(void) { for (;;) {} }
__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))&__stack_top, reset_handler, fault, fault, fault, fault, fault, 0, 0, 0, 0,
    fault, fault, 0, fault, fault};
void reset_handler(void) {
  *(volatile unsigned long *)0xE000ED88 |= 0xFUL << 20; /* CPACR: CP10 and CP11, the FPU */
  __asm volatile("dsb\\n isb");
  _start();
}
"""
LINKER = """\
MEMORY { FLASH (rx) : ORIGIN = 0x00000000, LENGTH = 4M
         RAM (rwx) : ORIGIN = 0x20000000, LENGTH = 4M }
ENTRY(reset_handler)
SECTIONS {
  .text : { KEEP(*(.vectors)) *(.text*) KEEP(*(.init)) KEEP(*(.fini)) *(.rodata*)
            . = ALIGN(4); __preinit_array_start = .; KEEP(*(.preinit_array)) __preinit_array_end = .;
            __init_array_start = .; KEEP(*(.init_array*)) __init_array_end = .;
            __fini_array_start = .; KEEP(*(.fini_array*)) __fini_array_end = .; } > FLASH
  .ARM.exidx : { *(.ARM.exidx*) } > FLASH
  .data : { *(.data*) } > RAM
  .bss : { __bss_start__ = .; *(.bss*) *(COMMON) . = ALIGN(8); __bss_end__ = .; } > RAM
  end = .; _end = .; __end__ = .;
  __stack_top = ORIGIN(RAM) + LENGTH(RAM);
}
"""


def missing_tools(qemu: bool = False) -> str:
    """'' when the cross toolchain (and qemu) is installed, else which tool is absent and how to get it."""
    absent = [t for t in (ARM_GCC, ARM_SIZE) + ((QEMU,) if qemu else ()) if shutil.which(t) is None]
    return f"{', '.join(absent)} not found ({INSTALL})" if absent else ""


def _run(cmd: list[str], cwd: Path, what: str, timeout: float = 300) -> str:
    try:
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ExportError(f"{what}: {cmd[0]} ran past {timeout} s.") from None
    if done.returncode != 0:
        raise ExportError(f"{what}: {' '.join(cmd)} exited {done.returncode}:\n{(done.stdout + done.stderr)[-2000:]}")
    return done.stdout


def _deepest(ci_text: str, start: str) -> int:
    """Bytes of stack on the deepest call path from `start` in a -fcallgraph-info=su graph (library calls count 0)."""
    frames = {m[0]: int(m[1]) for m in re.findall(r'node: \{ title: "([^"]+)" label: "[^"]*\\n(\d+) bytes', ci_text)}
    edges: dict[str, set[str]] = {}
    for src, dst in re.findall(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"', ci_text):
        edges.setdefault(src, set()).add(dst)

    def depth(node: str, seen: frozenset[str]) -> int:
        if node in seen:
            raise ExportError(f"the call graph from {start} is recursive at {node}; the stack has no bound.")
        inner = [depth(d, seen | {node}) for d in edges.get(node, ())]
        return frames.get(node, 0) + max(inner, default=0)

    return depth(start, frozenset())


def footprint(source: Path, header: str) -> dict[str, Any]:
    """Compile `source` for a Cortex-M4 at -Os and measure flash (text + rodata) and stack; ExportError on failure."""
    prefix = re.search(r"void (\w+)_predict\(", source.read_text(encoding="utf-8"))
    if prefix is None:
        raise ExportError(f"{source.name} defines no P_predict.")
    p = prefix.group(1)
    with tempfile.TemporaryDirectory(prefix="edgernn-mcu-") as tmp:
        work = Path(tmp)
        shutil.copy(source, work / "model.c")
        flags = [*CFLAGS, *CPU, "-fstack-usage", "-fcallgraph-info=su", "-c", "model.c", "-o", "model.o"]
        _run([ARM_GCC, *flags], work, f"{source.name} for Cortex-M4")
        sizes = dict(re.findall(r"^(\.\w[\w.]*)\s+(\d+)", _run([ARM_SIZE, "-A", "model.o"], work, "size"), re.M))
        ci = (work / "model.ci").read_text(encoding="utf-8")
    text = sum(int(v) for k, v in sizes.items() if k.startswith(".text"))
    rodata = sum(int(v) for k, v in sizes.items() if k.startswith(".rodata"))
    state = 4 * int((re.search(rf"#define {p.upper()}_STATE_SIZE (\d+)", source.read_text()) or [0, 0])[1])
    stack_predict = _deepest(ci, f"{p}_predict")
    stack_step = _deepest(ci, f"{p}_step") if state else 0
    return {
        "target": "cortex-m4 " + " ".join(CPU[1:]),
        "compiler": _run([ARM_GCC, "-dumpversion"], Path("."), "version").strip(),
        "text_bytes": text,
        "rodata_bytes": rodata,
        "flash_bytes": text + rodata,
        "data_bytes": sum(int(v) for k, v in sizes.items() if k.startswith((".data", ".bss"))),
        "state_bytes": state,
        "stack_predict_bytes": stack_predict,
        "stack_step_bytes": stack_step,
        "ram_bytes": max(stack_predict, state + stack_step),  # predict keeps its state on its own stack
        "ram_note": "stack from -fcallgraph-info (library calls such as memset and expf not counted)",
    }


def footprint_or_reason(source: Path, header: str) -> dict[str, Any]:
    """The footprint, or {'skipped': why} when the cross compiler is not installed."""
    why = missing_tools()
    return {"skipped": why} if why else footprint(source, header)


def run_on_qemu(folder: Path, source: str, header: str, test: str) -> str:
    """Cross-compile the test program with the model, run it on the emulated Cortex-M4; its output line.

    Raises:
        ExportError: a tool is missing, the build fails, or the program exits non-zero (a mismatch).
    """
    why = missing_tools(qemu=True)
    if why:
        raise ExportError(f"cannot run on the Cortex-M4 emulator: {why}.")
    with tempfile.TemporaryDirectory(prefix="edgernn-qemu-") as tmp:
        work = Path(tmp)
        for name in (source, header, test):
            shutil.copy(folder / name, work / name)
        (work / "startup.c").write_text(STARTUP, encoding="utf-8")
        (work / "link.ld").write_text(LINKER, encoding="utf-8")
        build = [ARM_GCC, "-std=c99", *CPU, "--specs=rdimon.specs", "-T", "link.ld", "startup.c", source, test]
        _run([*build, "-o", "test.elf", "-lm"], work, f"{test} for Cortex-M4")
        return _run([QEMU, *QEMU_ARGS, "-kernel", "test.elf"], work, f"{test} on qemu mps2-an386", QEMU_SECONDS).strip()
