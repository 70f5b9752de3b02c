#pragma once
/// corio's version, equal to the CMake project version (a test keeps the two in step).
#define CORIO_VERSION_MAJOR 0
#define CORIO_VERSION_MINOR 2
#define CORIO_VERSION_PATCH 0
/// One number for comparisons: 10000 * major + 100 * minor + patch.
#define CORIO_VERSION (CORIO_VERSION_MAJOR * 10000 + CORIO_VERSION_MINOR * 100 + CORIO_VERSION_PATCH)
