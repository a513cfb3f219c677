"""The Cortex-M4 side of the C format: footprint of model.o and the test program under qemu.

    mcu.footprint(Path("b/model.c"), "model.h")  # {"flash_bytes": ..., "stack_bytes": ..., ...}
    mcu.run_on_qemu(Path("b"), "model.c", "model.h", "model_test.c")  # the test program's output

Both need arm-none-eabi-gcc (Debian: gcc-arm-none-eabi libnewlib-arm-none-eabi); the qemu run needs
qemu-system-arm. The firmware is linked for the mps2-an386 board (a Cortex-M4 with FPU) with a
vector table and linker script of our own and newlib's semihosting (rdimon) for printf and exit.
"""

def footprint_or_reason(path, header):
    return {}
