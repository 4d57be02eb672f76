// The whole public interface: include this one header.
#pragma once

#include "loops/errors.hpp"
#include "loops/event_loop.hpp"
#include "loops/future.hpp"
#include "loops/gather.hpp"
#include "loops/queue.hpp"
#include "loops/registry.hpp"
#include "loops/run.hpp"
#include "loops/streams.hpp"
#include "loops/task.hpp"
#include "loops/wait.hpp"
