// Atomic file replacement: temporary file in the target's folder, fsync, rename, fsync the folder.
#include "core/io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ios>
#include <random>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace attnx {
namespace {

std::string osError(int err) { return std::system_category().message(err); }

[[noreturn]] void fail(const std::string& path, const std::string& what, int err) {
  throw std::runtime_error(path + ": " + what + ": " + osError(err));
}

// A std::streambuf over a POSIX file descriptor. Remembers the first OS error instead of
// throwing, so the ostream sees an ordinary failure and the caller can report errno.
class FdStreamBuf : public std::streambuf {
 public:
  explicit FdStreamBuf(int fd) : fd_(fd), buffer_(kBufferSize) { resetBuffer(); }
  int error() const { return error_; }

 protected:
  int_type overflow(int_type ch) override {
    if (!drain()) return traits_type::eof();
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(ch);
      pbump(1);
    }
    return traits_type::not_eof(ch);
  }

  std::streamsize xsputn(const char* s, std::streamsize n) override {
    // Large blocks (tensor data) go straight to the file instead of through the buffer.
    if (n < static_cast<std::streamsize>(buffer_.size())) return std::streambuf::xsputn(s, n);
    if (!drain() || !writeAll(s, static_cast<size_t>(n))) return 0;
    return n;
  }

  int sync() override { return drain() ? 0 : -1; }

 private:
  static constexpr size_t kBufferSize = 1 << 16;

  void resetBuffer() { setp(buffer_.data(), buffer_.data() + buffer_.size()); }

  bool drain() {
    const size_t n = static_cast<size_t>(pptr() - pbase());
    if (n > 0 && !writeAll(pbase(), n)) return false;
    resetBuffer();
    return true;
  }

  bool writeAll(const char* p, size_t n) {
    if (error_ != 0) return false;
    while (n > 0) {
      const ssize_t w = ::write(fd_, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        error_ = errno;
        return false;
      }
      if (w == 0) {  // cannot happen for regular files; do not spin if it does
        error_ = EIO;
        return false;
      }
      p += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }

  int fd_;
  std::vector<char> buffer_;
  int error_ = 0;
};

// Creates path + ".tmp-XXXXXX" with O_EXCL. Not mkstemp: that creates mode 0600, and the final
// file should get the usual 0666 & ~umask like any other file the user creates.
int createTemporary(const std::string& path, std::string& tmpPath) {
  static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  thread_local std::mt19937_64 rng(
      std::random_device{}() ^
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
      (static_cast<uint64_t>(::getpid()) << 32));
  std::uniform_int_distribution<size_t> pick(0, sizeof(kAlphabet) - 2);
  int lastError = EEXIST;
  for (int attempt = 0; attempt < 100; ++attempt) {
    tmpPath = path + ".tmp-";
    for (int i = 0; i < 6; ++i) tmpPath += kAlphabet[pick(rng)];
    const int fd = ::open(tmpPath.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) return fd;
    lastError = errno;
    if (lastError != EEXIST && lastError != EINTR) break;
  }
  fail(path, "cannot create temporary file " + tmpPath, lastError);
}

std::string parentFolder(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Makes the rename itself durable. Best effort: some file systems refuse fsync on folders, and
// by now the new contents are complete and in place either way.
void syncFolder(const std::string& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

}  // namespace

void writeFileAtomically(const std::string& path,
                         const std::function<void(std::ostream&)>& writer) {
  std::string tmpPath;
  int fd = createTemporary(path, tmpPath);
  try {
    FdStreamBuf buffer(fd);
    std::ostream out(&buffer);
    try {
      writer(out);
      out.flush();
    } catch (const std::ios_base::failure&) {
      // The writer asked for stream exceptions; report the OS error behind them if there is one.
      if (buffer.error() != 0) fail(path, "cannot write temporary file " + tmpPath, buffer.error());
      throw;
    }
    if (buffer.error() != 0) fail(path, "cannot write temporary file " + tmpPath, buffer.error());
    if (!out) {
      throw std::runtime_error(path + ": writing failed: the output stream reported an error");
    }
    if (::fsync(fd) != 0) fail(path, "cannot flush temporary file " + tmpPath + " to disk", errno);
    const int closed = ::close(fd);
    fd = -1;
    if (closed != 0) fail(path, "cannot close temporary file " + tmpPath, errno);
    if (::rename(tmpPath.c_str(), path.c_str()) != 0) {
      fail(path, "cannot rename temporary file " + tmpPath + " into place", errno);
    }
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmpPath.c_str());
    throw;
  }
  syncFolder(parentFolder(path));
}

void writeFileAtomically(const std::string& path, std::string_view bytes) {
  writeFileAtomically(path, [bytes](std::ostream& out) {
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  });
}

}  // namespace attnx
