# Runs one fuzzer for a fixed number of iterations from a fresh scratch corpus (libFuzzer
# writes what it finds into its first directory; the seeds in the source tree stay as they are).
# cmake -D FUZZER=... -D RUNS=... -D SCRATCH=... -D SEEDS=... [-D DICT=...] -P run_fuzz.cmake
file(REMOVE_RECURSE ${SCRATCH})
file(MAKE_DIRECTORY ${SCRATCH})
set(args -runs=${RUNS} -seed=1)
if(DICT)
    list(APPEND args -dict=${DICT})
endif()
execute_process(COMMAND ${FUZZER} ${args} ${SCRATCH} ${SEEDS} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${FUZZER} failed (${rc}); the crashing input is in the working directory")
endif()
