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

# The README's first command on a machine without Catch2 (and without network): it still
# configures, says how to get the tests, and builds the main example.
if(KIND STREQUAL "no_catch2")
    execute_process(COMMAND ${CMAKE_COMMAND} -S ${CORIO_SOURCE_DIR} -B ${WORK_DIR}/build ${args}
                            -DCMAKE_DISABLE_FIND_PACKAGE_Catch2=ON
                    OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "consumer no_catch2: configuring failed: ${err}")
    endif()
    string(REGEX REPLACE "[ \n]+" " " said "${err}")
    if(NOT said MATCHES "Catch2 not found, so the tests are not built.*apt install catch2.*CORIO_FETCH_CATCH2=ON")
        message(FATAL_ERROR "consumer no_catch2: no clear message about Catch2 in: ${err}")
    endif()
    run(${CMAKE_COMMAND} --build ${WORK_DIR}/build --target count)
    run(${WORK_DIR}/build/examples/count --interval 1)
    return()
endif()

# pkg-config: install, then compile main.cpp by hand with what `pkg-config --cflags --libs`
# says, as a Makefile or Meson user would.
if(KIND STREQUAL "pkg_config")
    find_program(PKG_CONFIG pkg-config REQUIRED)
    run(${CMAKE_COMMAND} -S ${CORIO_SOURCE_DIR} -B ${WORK_DIR}/corio-build ${args}
        -DCORIO_BUILD_TESTS=OFF -DCORIO_BUILD_EXAMPLES=OFF)
    run(${CMAKE_COMMAND} --install ${WORK_DIR}/corio-build --prefix ${WORK_DIR}/prefix)
    set(ENV{PKG_CONFIG_PATH} ${WORK_DIR}/prefix/share/pkgconfig)
    execute_process(COMMAND ${PKG_CONFIG} --cflags --libs corio
        OUTPUT_VARIABLE flags OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "consumer pkg_config: pkg-config --cflags --libs corio failed: ${rc}")
    endif()
    execute_process(COMMAND ${PKG_CONFIG} --modversion corio
        OUTPUT_VARIABLE version OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(NOT version STREQUAL EXPECTED_VERSION)
        message(FATAL_ERROR "consumer pkg_config: version '${version}', expected '${EXPECTED_VERSION}'")
    endif()
    separate_arguments(flags UNIX_COMMAND "${flags}")
    if(NOT CXX_COMPILER)
        set(CXX_COMPILER c++)
    endif()
    run(${CXX_COMPILER} ${CMAKE_CURRENT_LIST_DIR}/main.cpp ${flags} -o ${WORK_DIR}/consumer)
    run(${WORK_DIR}/consumer)
    return()
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
