#pragma once
#include <stddef.h>
#include <stdint.h>

// libFuzzer's entry for programs that have their own main (compiler-rt FuzzerInterface.h).
// SwiftPM points an executable's `main` at its module's entry point, so the harness calls the
// driver from there instead of linking libFuzzer's main.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
