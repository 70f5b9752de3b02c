# The nodiscard tests (see tests/CMakeLists.txt). With -D COMPILE=<compiler command, a
# list> -D LOG=<file>: compiles the snippet of discards once, keeping the diagnostics in
# LOG; the compiler must fail. With -D LOG=<file> -D SOURCE=<name> -D LINE=<n> -D WHAT=<case>:
# the discard on that line must be what was rejected, as an unused result.
if(DEFINED COMPILE)
    execute_process(COMMAND ${COMPILE} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
    file(WRITE ${LOG} "${out}")
    if(rc EQUAL 0)
        message(FATAL_ERROR "the snippet discarding every awaitable compiled:\n${out}")
    endif()
    return()
endif()

file(READ ${LOG} log)
if(log MATCHES "${SOURCE}:${LINE}:[0-9]+: (error|warning): [^\n]*nodiscard[^\n]*unused-(result|value)")
    return()
endif()
string(REGEX MATCHALL "${SOURCE}:${LINE}:[^\n]*" there "${log}")
message(FATAL_ERROR "discarding ${WHAT} (${SOURCE}:${LINE}) was not rejected as unused; diagnostics there: ${there}")
