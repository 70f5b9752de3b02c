# As a subproject corio must not add its tests, examples or warning flags to the consumer.
if(CORIO_BUILD_TESTS OR CORIO_BUILD_EXAMPLES OR TARGET corio_warnings OR TARGET corio_test_main)
    message(FATAL_ERROR "corio built its own tests/examples inside a consumer project")
endif()
