// The one translation unit that sees c10d and gloo headers (process_group.h hides them).
#include "core/dist/process_group.h"

#include <cstdlib>
#include <thread>

// LibTorch's headers declare the Gloo and NCCL groups only under the macros its own build defines
// (Torch's CMake config passes USE_C10D_GLOO; not every LibTorch's does). ATTNX_HAVE_GLOO: gloo's
// headers were found (Debian's libgloo-dev; a CUDA LibTorch from pip may come without them).
#if defined(ATTNX_HAVE_GLOO) && !defined(USE_C10D_GLOO)
#define USE_C10D_GLOO
#endif
#if defined(ATTNX_HAVE_NCCL) && !defined(USE_C10D_NCCL)
#define USE_C10D_NCCL
#endif

#ifdef ATTNX_HAVE_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef ATTNX_HAVE_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace attnx {
namespace {

constexpr int64_t kBucketBytes = int64_t(32) << 20;
// How long a rank that saw a collective fail waits for the others to answer the census: long enough
// for every survivor to notice the same failure, short enough that the job ends "within seconds".
constexpr auto kCensusWait = std::chrono::seconds(3);

std::string firstLine(const std::string& s) {
  const auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

std::string seconds(std::chrono::milliseconds t) {
  return std::to_string(t.count() / 1000) + (t.count() % 1000 ? "." + std::to_string(t.count() % 1000 / 100) : "") + " s";
}

bool isLoopback(const std::string& addr) { return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1"; }

#ifdef ATTNX_HAVE_GLOO
// Gloo's network device: the interface GLOO_SOCKET_IFNAME names (as torch.distributed honours it),
// the loopback for a job on one machine, else this host's own address.
std::shared_ptr<::gloo::transport::Device> glooDevice(const DistEnv& env) {
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
    return ::c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  if (isLoopback(env.masterAddr)) return ::c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return ::c10d::ProcessGroupGloo::createDefaultDevice();
}
#endif

std::string censusKey(int rank) { return "attnx/census/" + std::to_string(rank); }
std::string failedKey(int rank) { return "attnx/failed/" + std::to_string(rank); }

}  // namespace

struct ProcessGroup::Impl {
  DistEnv env;
  ProcessGroupOptions options;
  c10::intrusive_ptr<::c10d::Store> store;
  c10::intrusive_ptr<::c10d::ProcessGroup> pg;

  // Which ranks are still there, asked through the store once a collective has failed.
  std::string census() const {
    try {
      store->setTimeout(std::chrono::milliseconds(2000));
      store->set(censusKey(env.rank), std::vector<uint8_t>{1});
      const auto deadline = std::chrono::steady_clock::now() + kCensusWait;
      std::vector<int> missing;
      for (;;) {
        missing.clear();
        for (int r = 0; r < env.worldSize; ++r)
          if (r != env.rank && !store->check({censusKey(r)})) missing.push_back(r);
        if (missing.empty() || std::chrono::steady_clock::now() > deadline) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      std::string out;
      for (int r = 0; r < env.worldSize; ++r) {
        if (r == env.rank || !store->check({failedKey(r)})) continue;
        const auto v = store->get(failedKey(r));
        out += (out.empty() ? "" : "; ") + std::string("rank ") + std::to_string(r) + " failed: " + std::string(v.begin(), v.end());
      }
      for (int r : missing)
        if (!store->check({failedKey(r)}))
          out += (out.empty() ? "" : "; ") + std::string("rank ") + std::to_string(r) +
                 " stopped answering (killed, crashed or stuck?)";
      if (out.empty())
        out = "every rank is still there, so a rank was too slow or stuck (the timeout is " + seconds(options.timeout) +
              ", --dist-timeout)";
      return out;
    } catch (const std::exception&) {
      // The store lives in rank 0's process: when it cannot be reached, rank 0 is gone.
      return env.rank == 0 ? std::string("the rendezvous store cannot be reached")
                           : "rank 0 is gone (its process served the rendezvous store at " + env.masterAddr + ":" +
                                 std::to_string(env.masterPort) + ")";
    }
  }
};

ProcessGroup::ProcessGroup(std::unique_ptr<Impl> impl) : d_(std::move(impl)) {}
ProcessGroup::~ProcessGroup() = default;
int ProcessGroup::rank() const { return d_->env.rank; }
int ProcessGroup::size() const { return d_->env.worldSize; }
const std::string& ProcessGroup::backend() const { return d_->options.backend; }
const DistEnv& ProcessGroup::env() const { return d_->env; }

std::shared_ptr<ProcessGroup> ProcessGroup::join(const DistEnv& env, const ProcessGroupOptions& options) {
  if (!env.distributed()) throw std::logic_error("ProcessGroup::join: WORLD_SIZE is 1");
  if (options.backend != "gloo" && options.backend != "nccl")
    throw std::runtime_error("--dist-backend must be gloo or nccl, got \"" + options.backend + "\"");
#ifndef ATTNX_HAVE_GLOO
  if (options.backend == "gloo")
    throw std::runtime_error("--dist-backend gloo: this build has no Gloo (gloo's headers were missing at build time; "
                             "install libgloo-dev and rebuild), use --dist-backend nccl");
#endif
#ifndef ATTNX_HAVE_NCCL
  if (options.backend == "nccl")
    throw std::runtime_error("--dist-backend nccl: this build's LibTorch has no NCCL (a CPU build); use --dist-backend gloo "
                             "or build attnx against a CUDA LibTorch");
#endif
  auto impl = std::make_unique<Impl>();
  impl->env = env;
  impl->options = options;
  const std::string where = env.masterAddr + ":" + std::to_string(env.masterPort);
  const std::string self = "rank " + std::to_string(env.rank) + " of " + std::to_string(env.worldSize);
  try {
    ::c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(env.masterPort);
    so.isServer = env.rank == 0;
    so.numWorkers = static_cast<std::size_t>(env.worldSize);
    so.waitWorkers = true;  // rank 0 returns once every rank has connected, or throws at the timeout
    so.timeout = options.timeout;
    impl->store = c10::make_intrusive<::c10d::TCPStore>(env.masterAddr, so);
  } catch (const std::exception& e) {
    throw CollectiveFailed(
        self + ": " +
        (env.rank == 0 ? "not every rank joined the job at " + where + " within " + seconds(options.timeout)
                       : "could not reach rank 0's rendezvous store at " + where + " within " + seconds(options.timeout)) +
        " (" + firstLine(e.what()) + "). Start all WORLD_SIZE=" + std::to_string(env.worldSize) +
        " ranks with the same MASTER_ADDR and MASTER_PORT, a port free on rank 0's host, or raise --dist-timeout.");
  }
  try {
    if (options.backend == "gloo") {
#ifdef ATTNX_HAVE_GLOO
      auto o = ::c10d::ProcessGroupGloo::Options::create(options.timeout);
      o->devices.push_back(glooDevice(env));
      impl->pg = c10::make_intrusive<::c10d::ProcessGroupGloo>(impl->store, env.rank, env.worldSize, o);
#endif
    } else {
#ifdef ATTNX_HAVE_NCCL
      // Without async error handling a dead peer leaves NCCL kernels spinning forever.
      setenv("NCCL_ASYNC_ERROR_HANDLING", "1", /*overwrite=*/0);
      auto o = ::c10d::ProcessGroupNCCL::Options::create();
      o->timeout = options.timeout;
      impl->pg = c10::make_intrusive<::c10d::ProcessGroupNCCL>(impl->store, env.rank, env.worldSize, o);
#endif
    }
  } catch (const std::exception& e) {
    throw CollectiveFailed(self + ": not every rank joined the job at " + where + " within " + seconds(options.timeout) +
                           " (the " + options.backend + " group did not form: " + firstLine(e.what()) +
                           "). Start all WORLD_SIZE=" + std::to_string(env.worldSize) +
                           " ranks with the same MASTER_ADDR and MASTER_PORT, or raise --dist-timeout.");
  }
  return std::shared_ptr<ProcessGroup>(new ProcessGroup(std::move(impl)));
}

void ProcessGroup::fail(const std::string& what, const std::exception& cause) {
  throw CollectiveFailed("rank " + std::to_string(rank()) + " of " + std::to_string(size()) + ": " + what +
                         " failed: " + d_->census() + " [" + firstLine(cause.what()) + "]");
}

void ProcessGroup::sumInPlace(const std::vector<torch::Tensor>& tensors, const std::string& what) {
  torch::NoGradGuard g;
  try {
    for (size_t i = 0; i < tensors.size();) {
      // One bucket: consecutive tensors of one dtype and device, up to kBucketBytes (at least one).
      std::vector<torch::Tensor> bucket;
      int64_t bytes = 0;
      const auto dtype = tensors[i].scalar_type();
      const auto device = tensors[i].device();
      while (i < tensors.size() && tensors[i].scalar_type() == dtype && tensors[i].device() == device &&
             (bucket.empty() || bytes + int64_t(tensors[i].nbytes()) <= kBucketBytes)) {
        bytes += int64_t(tensors[i].nbytes());
        bucket.push_back(tensors[i++]);
      }
      std::vector<torch::Tensor> flat;
      for (const auto& t : bucket) flat.push_back(t.reshape({-1}));
      std::vector<at::Tensor> buffer{torch::cat(flat)};
      d_->pg->allreduce(buffer)->wait();
      int64_t offset = 0;
      for (auto& t : bucket) {
        t.copy_(buffer[0].narrow(0, offset, t.numel()).view(t.sizes()));
        offset += t.numel();
      }
    }
  } catch (const CollectiveFailed&) {
    throw;
  } catch (const std::exception& e) {
    fail(what, e);
  }
}

void ProcessGroup::broadcastInPlace(const std::vector<torch::Tensor>& tensors, int root, const std::string& what) {
  torch::NoGradGuard g;
  try {
    for (const auto& t : tensors) {
      std::vector<at::Tensor> one{t.is_contiguous() ? t : t.contiguous()};
      ::c10d::BroadcastOptions o;
      o.rootRank = root;
      d_->pg->broadcast(one, o)->wait();
      if (!one[0].is_same(t)) t.copy_(one[0]);
    }
  } catch (const std::exception& e) {
    fail(what, e);
  }
}

void ProcessGroup::barrier(const std::string& what) {
  try {
    d_->pg->barrier()->wait();
  } catch (const std::exception& e) {
    fail(what, e);
  }
}

std::string ProcessGroup::shareFromRankZero(const std::string& key, const std::string& text) {
  const std::string k = "attnx/shared/" + key;
  try {
    if (rank() == 0) {
      d_->store->set(k, std::vector<uint8_t>(text.begin(), text.end()));
      return text;
    }
    const auto v = d_->store->get(k);  // waits up to the store's timeout
    return std::string(v.begin(), v.end());
  } catch (const std::exception& e) {
    fail("receiving rank 0's " + key, e);
  }
}

void ProcessGroup::reportFailure(const std::string& message) noexcept {
  try {
    d_->store->setTimeout(std::chrono::milliseconds(1000));
    d_->store->set(failedKey(rank()), std::vector<uint8_t>(message.begin(), message.end()));
  } catch (...) {
    // the store is gone too: the peers' census says this rank stopped answering
  }
}

}  // namespace attnx
