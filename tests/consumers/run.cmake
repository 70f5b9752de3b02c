# Configures, builds and runs one consumer project (KIND) against corio in a fresh WORK_DIR.
# cmake -D KIND=<add_subdirectory|fetch_content|find_package> -D CORIO_SOURCE_DIR=<dir>
#       -D WORK_DIR=<dir> [-D GENERATOR=<gen>] [-D CXX_COMPILER=<c++>] -P run.cmake
foreach(var IN ITEMS KIND CORIO_SOURCE_DIR WORK_DIR)
    if(NOT ${var})
        message(FATAL_ERROR "run.cmake: -D ${var}=... is required")
    endif()
endforeach()

function(run)
    execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
        list(JOIN ARGV " " command)
        message(FATAL_ERROR "consumer ${KIND}: '${command}' failed: ${rc}")
    endif()
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
set(args -DCMAKE_BUILD_TYPE=Release)
if(GENERATOR)
    list(APPEND args -G ${GENERATOR})
endif()
if(CXX_COMPILER)
    list(APPEND args -DCMAKE_CXX_COMPILER=${CXX_COMPILER})
endif()

if(KIND STREQUAL "find_package")
    run(${CMAKE_COMMAND} -S ${CORIO_SOURCE_DIR} -B ${WORK_DIR}/corio-build ${args}
        -DCORIO_BUILD_TESTS=OFF -DCORIO_BUILD_EXAMPLES=OFF)
    run(${CMAKE_COMMAND} --install ${WORK_DIR}/corio-build --prefix ${WORK_DIR}/prefix)
    list(APPEND args -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
else()
    list(APPEND args -DCORIO_SOURCE_DIR=${CORIO_SOURCE_DIR})
endif()

run(${CMAKE_COMMAND} -S ${CMAKE_CURRENT_LIST_DIR}/${KIND} -B ${WORK_DIR}/build ${args})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build --config Release)

# Multi-config generators put the program in a per-config subdirectory.
foreach(program IN ITEMS consumer Release/consumer consumer.exe Release/consumer.exe)
    if(EXISTS ${WORK_DIR}/build/${program})
        run(${WORK_DIR}/build/${program})
        return()
    endif()
endforeach()
message(FATAL_ERROR "consumer ${KIND}: no consumer program in ${WORK_DIR}/build")
