# One option per optional backend; each knows its prerequisite, so a machine
# without, say, liburing still builds the rest. `epoll` and `sim` need only Linux.
find_package(PkgConfig)

option(LOOPBENCH_WITH_ASIO "Build the Boost.Asio backend" ON)
option(LOOPBENCH_WITH_UV "Build the libuv backend" ON)
option(LOOPBENCH_WITH_URING "Build the io_uring backend" ON)
option(LOOPBENCH_WITH_LIBEV "Build the libev backend" ON)
option(LOOPBENCH_WITH_LIBEVENT "Build the libevent backend" ON)

if(LOOPBENCH_WITH_ASIO)
  find_package(Boost 1.81 CONFIG QUIET)
  if(NOT Boost_FOUND)
    message(WARNING "Boost >= 1.81 not found: asio backend disabled (apt-get install libboost1.81-dev)")
    set(LOOPBENCH_WITH_ASIO OFF)
  endif()
endif()
if(LOOPBENCH_WITH_UV)
  pkg_check_modules(LIBUV IMPORTED_TARGET libuv)
  if(NOT LIBUV_FOUND)
    message(WARNING "libuv not found: uv backend disabled (apt-get install libuv1-dev)")
    set(LOOPBENCH_WITH_UV OFF)
  endif()
endif()
if(LOOPBENCH_WITH_URING)
  pkg_check_modules(LIBURING IMPORTED_TARGET liburing)
  if(NOT LIBURING_FOUND)
    message(WARNING "liburing not found: uring backend disabled (apt-get install liburing-dev)")
    set(LOOPBENCH_WITH_URING OFF)
  endif()
endif()
if(LOOPBENCH_WITH_LIBEV)
  # Debian's libev-dev ships no pkg-config file: find the header and library.
  find_path(LIBEV_INCLUDE_DIR ev.h)
  find_library(LIBEV_LIBRARY ev)
  if(LIBEV_INCLUDE_DIR AND LIBEV_LIBRARY)
    file(STRINGS ${LIBEV_INCLUDE_DIR}/ev.h libev_version_lines
         REGEX "^#define EV_VERSION_(MAJOR|MINOR) [0-9]+")
    string(REGEX REPLACE ".*MAJOR ([0-9]+).*MINOR ([0-9]+).*" "\\1.\\2" LIBEV_VERSION
                         "${libev_version_lines}")
    add_library(loopbench::libev INTERFACE IMPORTED)
    target_include_directories(loopbench::libev INTERFACE ${LIBEV_INCLUDE_DIR})
    target_link_libraries(loopbench::libev INTERFACE ${LIBEV_LIBRARY})
  else()
    message(WARNING "libev not found: libev backend disabled (apt-get install libev-dev)")
    set(LOOPBENCH_WITH_LIBEV OFF)
  endif()
endif()
if(LOOPBENCH_WITH_LIBEVENT)
  # libevent_core (the event loop without HTTP, DNS and RPC), linked from its
  # static archive: Debian's libev.so defines libevent 1.4's names (event_add,
  # event_base_loop, event_base_free...) for its emulation layer, and in a
  # process that loads both shared libraries every such call, libevent's own
  # internal ones included, goes to whichever library the dynamic linker met
  # first. Linked statically, libevent's definitions are in the executable,
  # which is searched before any library.
  pkg_check_modules(LIBEVENT libevent_core)
  find_library(LIBEVENT_CORE_ARCHIVE libevent_core.a HINTS ${LIBEVENT_LIBRARY_DIRS})
  if(LIBEVENT_FOUND AND LIBEVENT_CORE_ARCHIVE)
    add_library(loopbench::libevent INTERFACE IMPORTED)
    target_include_directories(loopbench::libevent INTERFACE ${LIBEVENT_INCLUDE_DIRS})
    target_link_libraries(loopbench::libevent INTERFACE ${LIBEVENT_CORE_ARCHIVE})
  else()
    message(WARNING "libevent not found: libevent backend disabled (apt-get install libevent-dev)")
    set(LOOPBENCH_WITH_LIBEVENT OFF)
  endif()
endif()

# loopbench_add_backend(NAME <name> SOURCES ... [LIBS ...]), in loops/<name>/:
# defines the static library loopbench_<name> and appends <name> to the
# build's backends, which loops/CMakeLists.txt turns into the registry's list.
# The backend's libraries and include paths stay its own (PRIVATE): nothing
# else is compiled with them, so toggling a backend rebuilds only the backend
# and the generated list.
function(loopbench_add_backend)
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;LIBS" ${ARGN})
  add_library(loopbench_${ARG_NAME} STATIC ${ARG_SOURCES})
  target_link_libraries(loopbench_${ARG_NAME} PUBLIC loopbench_core PRIVATE ${ARG_LIBS})
  set_property(GLOBAL APPEND PROPERTY LOOPBENCH_BACKENDS ${ARG_NAME})
endfunction()
