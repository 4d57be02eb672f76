#include "scenarios/detail/harness.hpp"

#include <exception>
#include <utility>

namespace scenarios::detail {

// --- Activity ------------------------------------------------------------------------------

Activity::Activity(Tracker& tracker, std::string name)
    : tracker_(&tracker),
      name_(std::move(name)),
      size_(1),
      detailed_(true),
      single_(true),
      states_(1, State::created) {}

Activity::Activity(Tracker& tracker, std::string noun, std::string prefix, std::size_t size,
                   bool detailed)
    : tracker_(&tracker),
      name_(std::move(noun)),
      prefix_(std::move(prefix)),
      size_(size),
      detailed_(detailed),
      single_(false),
      states_(detailed ? size : 0, State::created) {}

void Activity::add(std::string line) const {
  tracker_->event(std::move(line));
}

std::string Activity::member_name(std::size_t member) const {
  return single_ ? name_ : prefix_ + std::to_string(member);
}

void Activity::started(std::size_t member) {
  if (detailed_) {
    states_[member] = State::running;
    add("start " + member_name(member));
  } else if (started_ == 0) {
    add("start " + std::to_string(size_) + " " + name_);
  }
  ++started_;
}

void Activity::start_all() {
  if (detailed_) {
    for (std::size_t i = 0; i < size_; ++i) {
      started(i);
    }
    return;
  }
  add("start " + std::to_string(size_) + " " + name_);
  started_ = size_;
}

// Records that `member` ended in `state`; false if it had already ended.
bool Activity::ends(std::size_t member, State state) {
  if (detailed_) {
    if (states_[member] != State::created && states_[member] != State::running) {
      return false;
    }
    states_[member] = state;
  }
  ++ended_;
  return true;
}

void Activity::finished(std::size_t member, std::string_view detail) {
  if (!ends(member, State::ok)) {
    return;
  }
  ++ok_;
  if (detailed_) {
    std::string line = "done " + member_name(member) + " ok";
    if (!detail.empty()) {
      line += ": " + std::string(detail);
    }
    add(std::move(line));
  } else if (ok_ == size_) {
    add("done " + std::to_string(size_) + " " + name_ + " ok");
  }
}

void Activity::failed(std::size_t member, std::string_view what) {
  if (!ends(member, State::failed)) {
    return;
  }
  add("done " + member_name(member) + " error: " + std::string(what));
}

void Activity::cancelled(std::size_t member) {
  const bool noted = tracker_->cleaning_up();
  if (!ends(member, noted ? State::cancel_seen : State::cancelled)) {
    return;
  }
  ++cancelled_;
  if (detailed_ && !noted) {
    add("cancelled " + member_name(member));
  }
}

void Activity::attach(const loops::Task<void>& task, std::size_t member) {
  if (!detailed_) {
    return;
  }
  if (tasks_.empty()) {
    tasks_.resize(size_);
  }
  tasks_[member] = task;
}

void Activity::cancel_tasks() const {
  for (const auto& task : tasks_) {
    if (task.valid() && task.scheduled() && !task.done()) {
      task.cancel();
    }
  }
}

void Activity::trace_pending() const {
  if (detailed_) {
    for (std::size_t i = 0; i < size_; ++i) {
      if (states_[i] == State::created || states_[i] == State::running) {
        add("pending " + member_name(i));
      }
    }
  } else if (ended_ < size_) {
    add("pending " + std::to_string(size_ - ended_) + " " + name_);
  }
}

// Whether a member the run left unfinished really ended cancelled: its task
// says so, or, without a task, the member saw its cancellation itself.
bool Activity::ended_cancelled(std::size_t member) const {
  if (member < tasks_.size() && tasks_[member].valid()) {
    const loops::Task<void>& task = tasks_[member];
    return task.scheduled() && task.done() && task.cancelled();
  }
  return states_[member] == State::cancel_seen;
}

void Activity::trace_cancelled_rest() {
  if (detailed_) {
    for (std::size_t i = 0; i < size_; ++i) {
      const State state = states_[i];
      const bool unfinished =
          state == State::created || state == State::running || state == State::cancel_seen;
      if (unfinished && ended_cancelled(i)) {
        states_[i] = State::cancelled;
        add("cancelled " + member_name(i));
      }
    }
    return;
  }
  if (cancelled_ > 0) {
    add("cancelled " + std::to_string(cancelled_) + " " + name_);
  }
}

// --- Tracker -------------------------------------------------------------------------------

Activity& Tracker::single(std::string name) {
  return activities_.emplace_back(*this, std::move(name));
}

Activity& Tracker::group(std::string noun, std::string prefix, std::size_t size, bool detailed) {
  return activities_.emplace_back(*this, std::move(noun), std::move(prefix), size, detailed);
}

void Tracker::trace_pending() const {
  for (const auto& activity : activities_) {
    activity.trace_pending();
  }
}

void Tracker::cancel_tasks() const {
  for (const auto& activity : activities_) {
    activity.cancel_tasks();
  }
}

void Tracker::trace_cancelled_rest() {
  for (auto& activity : activities_) {
    activity.trace_cancelled_rest();
  }
}

// --- Tasks ---------------------------------------------------------------------------------

namespace {
loops::Task<void> run_traced(Activity* activity, loops::Task<void> body) {
  activity->started();
  try {
    co_await body;
  } catch (const loops::CancelledError&) {
    activity->cancelled();
    throw;
  } catch (...) {
    activity->failed(0, loops::describe_exception(std::current_exception()));
    throw;
  }
  activity->finished();
}
}  // namespace

loops::Task<void> traced(Activity& activity, loops::Task<void> body) {
  loops::Task<void> task = run_traced(&activity, std::move(body));
  activity.attach(task);
  return task;
}

loops::Task<void> spawn(loops::EventLoop& loop, Tracker& tracker, std::string name,
                        loops::Task<void> body) {
  return loop.create_task(traced(tracker.single(std::move(name)), std::move(body)));
}

// --- Deadline and clean-up -----------------------------------------------------------------

void LoopAlarm::State::ring() {
  if (!active || rang) {
    return;
  }
  rang = true;
  if (on_ring) {
    on_ring();
  }
  loop->stop();
}

LoopAlarm::LoopAlarm(loops::EventLoop& loop, std::chrono::nanoseconds limit,
                     std::function<void()> on_ring, Clocks clocks)
    : state_(std::make_shared<State>()) {
  state_->loop = &loop;
  state_->on_ring = std::move(on_ring);
  if (clocks == Clocks::loop_and_wall) {
    timer_ = loop.call_later(limit, [state = state_.get()] { state->ring(); });
  }
  watchdog_ = std::thread([state = state_, until = Clock::now() + limit] {
    std::unique_lock lock(state->mutex);
    if (state->released_cv.wait_until(lock, until, [&] { return state->released; })) {
      return;
    }
    // Keeps `state` alive until the callback has run or the loop dropped it.
    state->loop->call_soon_threadsafe([state] { state->ring(); });
  });
}

LoopAlarm::~LoopAlarm() {
  timer_.cancel();
  {
    std::lock_guard lock(state_->mutex);
    state_->released = true;
  }
  state_->released_cv.notify_one();
  watchdog_.join();
  state_->active = false;  // A watchdog callback still queued now does nothing.
}

DeadlineGuard::DeadlineGuard(loops::EventLoop& loop, std::chrono::nanoseconds limit,
                             Tracker& tracker)
    : limit_(limit), alarm_(loop, limit, [&tracker, limit] {
        tracker.event("timeout after " + format_duration(limit));
      }) {}

void DeadlineGuard::record(Result& result) const {
  // An error is the more telling verdict: a run_until_complete that fails at
  // the deadline with anything but the stopped error is a bug to report.
  if (!expired() || result.status != Status::ok) {
    return;
  }
  result.status = Status::timeout;
  result.error = "deadline of " + format_duration(limit_) + " passed";
}

void fail(Result& result, std::string error) {
  if (result.status != Status::ok) {
    return;
  }
  result.status = Status::error;
  result.error = std::move(error);
}

void run_to_completion(loops::EventLoop& loop, const Params& params, Tracker& tracker,
                       const loops::Task<void>& main, const std::function<void()>& cancel_others) {
  Result& result = tracker.result();
  bool finished = false;
  {
    DeadlineGuard deadline(loop, params.duration("deadline"), tracker);
    const auto start = Clock::now();
    try {
      loop.run_until_complete(main);
      finished = true;
    } catch (const loops::LoopStoppedError&) {
      // The deadline's own stop; anything else stopping the loop is a bug.
      if (!deadline.expired()) {
        fail(result, "the loop stopped before the scenario finished");
      }
    } catch (...) {
      fail(result, loops::describe_exception(std::current_exception()));
    }
    result.wall_ns = elapsed_ns(start);
    deadline.record(result);
  }
  if (!finished) {
    tracker.trace_pending();
    tracker.begin_cleanup();
    if (cancel_others) {
      cancel_others();
    }
  }
  cancel_leftovers(loop, tracker);
}

void cancel_leftovers(loops::EventLoop& loop, Tracker& tracker, std::chrono::nanoseconds limit) {
  tracker.begin_cleanup();
  tracker.cancel_tasks();
  // Rounds: each cancels every task and waits for them all, or until `limit`
  // passes. Tasks started meanwhile are left to the next round. The clean-up
  // gives up only when a whole round ran out of time and no task ended in it.
  for (std::size_t left = loop.pending_task_count(); left != 0;) {
    bool out_of_time = false;
    {
      const LoopAlarm alarm(loop, limit, {}, LoopAlarm::Clocks::wall);
      try {
        loop.cancel_pending_tasks();
      } catch (const loops::LoopStoppedError&) {
        // The alarm's stop, or a task that stopped the loop as it ended.
      }
      out_of_time = alarm.rang();
    }
    const std::size_t still_left = loop.pending_task_count();
    if (out_of_time && still_left >= left) {
      break;
    }
    left = still_left;
  }
  tracker.trace_cancelled_rest();
  if (const std::size_t left = loop.pending_task_count(); left != 0) {
    // Worse than a timeout: the loop is not reusable, so it overrides one.
    Result& result = tracker.result();
    const std::string error = std::to_string(left) + " tasks still pending " +
                              format_duration(limit) + " after their cancellation";
    result.error = result.ok() ? error : result.error + "; " + error;
    result.status = Status::error;
  }
}

double per_item_ns(std::int64_t wall_ns, std::int64_t count) {
  return count > 0 ? static_cast<double>(wall_ns) / static_cast<double>(count) : 0.0;
}

}  // namespace scenarios::detail
