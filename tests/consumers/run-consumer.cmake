# Builds and runs a consumer project against b2bseg: MODE is find_package (install first) or
# add_subdirectory. Run with cmake -P; fails on any step's failure.
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
function(step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "step failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
endfunction()
if(MODE STREQUAL "find_package")
  step(${CMAKE_COMMAND} -S ${SRC} -B ${WORK}/lib -DB2BSEG_BUILD_TESTS=OFF -DB2BSEG_BUILD_BENCH=OFF
       -DB2BSEG_BUILD_TOOLS=OFF -DCMAKE_INSTALL_PREFIX=${WORK}/prefix)
  step(${CMAKE_COMMAND} --install ${WORK}/lib)
  step(${CMAKE_COMMAND} -S ${SRC}/tests/consumers/find-package -B ${WORK}/app -DCMAKE_PREFIX_PATH=${WORK}/prefix
       -DCMAKE_BUILD_TYPE=Release)
else()
  step(${CMAKE_COMMAND} -S ${SRC}/tests/consumers/add-subdirectory -B ${WORK}/app -DB2BSEG_SOURCE=${SRC}
       -DCMAKE_BUILD_TYPE=Release)
endif()
step(${CMAKE_COMMAND} --build ${WORK}/app -j2)
step(${WORK}/app/app)
step(${WORK}/app/live_app)
message(STATUS "consumer ${MODE}: built and ran")
