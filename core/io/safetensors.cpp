// safetensors reader (mmap + complete validation) and writer (atomic, reference byte layout).
// Each rejected file gets one message that starts with its path and says what is wrong.
#include "core/io/safetensors.h"

#include "core/io/atomic_file.h"
#include "core/util/json_document.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <sstream>
#include <system_error>
#include <unordered_set>
#include <utility>

namespace attnx {
namespace {

using json = nlohmann::json;

// The reference implementation's cap: a larger header is a damaged or hostile file.
constexpr uint64_t kMaxHeaderSize = 100'000'000;
// A valid header nests three levels (header object → entry → shape array); the checked parser
// (core/util/json_document.h) refuses deeper input while reading, before it can cost memory.

struct DTypeEntry {
  DType dtype;
  const char* name;
  size_t size;
};
constexpr DTypeEntry kDTypes[] = {
    {DType::F64, "F64", 8}, {DType::F32, "F32", 4}, {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2}, {DType::I64, "I64", 8}, {DType::I32, "I32", 4},
    {DType::I16, "I16", 2}, {DType::I8, "I8", 1}, {DType::U8, "U8", 1},
    {DType::BOOL, "BOOL", 1},
};

const DTypeEntry& entryFor(DType dtype) {
  for (const auto& e : kDTypes)
    if (e.dtype == dtype) return e;
  throw std::invalid_argument("invalid DType value " + std::to_string(static_cast<int>(dtype)));
}

std::string supportedDTypes() {
  std::string s;
  for (const auto& e : kDTypes) s += (s.empty() ? "" : ", ") + std::string(e.name);
  return s;
}

// JSON text of a value for a message: escaped, never throws on bad UTF-8, at most ~64 chars.
std::string brief(const json& value) {
  std::string s = value.dump(-1, ' ', false, json::error_handler_t::replace);
  constexpr size_t kMax = 64;
  if (s.size() > kMax) {
    size_t cut = kMax - 3;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // UTF-8 boundary
    s = s.substr(0, cut) + "...";
  }
  return s;
}

std::string jsonQuoted(std::string_view name) {
  return json(std::string(name)).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string shapeText(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string rangeText(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

// True if the product of the dimensions, with zeros counted as ones, fits in int64: then every
// partial product fits too, whatever order a caller multiplies in.
bool shapeFits(const std::vector<int64_t>& shape) {
  int64_t product = 1;
  for (int64_t d : shape)
    if (d > 1 && __builtin_mul_overflow(product, d, &product)) return false;
  return true;
}

// Bytes a tensor needs, or nullopt if that exceeds 2^64 - 1.
std::optional<uint64_t> byteCount(int64_t numel, DType dtype) {
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(static_cast<uint64_t>(numel), dtypeSize(dtype), &bytes))
    return std::nullopt;
  return bytes;
}

std::string byteCountText(const std::optional<uint64_t>& bytes) {
  return bytes ? std::to_string(*bytes)
               : "more than " + std::to_string(std::numeric_limits<uint64_t>::max());
}

// ---- reading ----------------------------------------------------------------------------

class Reader {
 public:
  explicit Reader(const std::string& path) : path_(path) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw SafetensorsError(path_ + ": " + what);
  }

  // Parses the header, rejecting duplicate keys (which nlohmann would silently merge) and
  // absurd nesting as they are read, in time linear in the header's size.
  json parseHeader(const char* begin, const char* end) const {
    const auto notJson = [&](const std::string& where) {
      fail("header is not valid JSON (" + where + "); the file is damaged or not a safetensors file");
    };
    const size_t size = static_cast<size_t>(end - begin);
    // nlohmann's lexer takes a NUL byte for the end of input and would ignore what follows.
    if (const void* nul = std::memchr(begin, '\0', size)) {
      notJson("NUL at byte " + std::to_string(static_cast<const char*>(nul) - begin + 1) + " of " +
              std::to_string(size));
    }
    try {
      return parseCheckedJson<json>(begin, end);
    } catch (const JsonRejected& r) {
      if (r.duplicateKey.empty())
        fail("header nests JSON more than " + std::to_string(kMaxJsonDepth) + " levels deep; not a safetensors header");
      if (r.depth == 1)
        fail(r.duplicateKey == "__metadata__" ? std::string("duplicate \"__metadata__\"") : "duplicate tensor name " + jsonQuoted(r.duplicateKey));
      fail("duplicate key " + jsonQuoted(r.duplicateKey) + " inside " +
           (r.topKey == "__metadata__" ? std::string("\"__metadata__\"") : "tensor " + jsonQuoted(r.topKey)));
    } catch (const json::parse_error& e) {
      // e.byte is 1-based and points one past the end when the input stops early.
      notJson(e.byte > size ? "it ends unexpectedly after " + std::to_string(size) + " bytes"
                            : "error at byte " + std::to_string(e.byte) + " of " + std::to_string(size));
    } catch (const json::out_of_range&) {
      // Valid JSON syntax, but a number such as 1e400 that no double holds (found by fuzzing).
      fail("header holds a number too large to represent; the file is damaged or not a safetensors file");
    } catch (const json::exception& e) {
      fail(std::string("header could not be parsed: ") + e.what());
    }
    return json();  // not reached
  }

  void readMetadata(const json& value, std::map<std::string, std::string>& out) const {
    if (!value.is_object()) {
      fail("\"__metadata__\" must be a JSON object of strings, got " + brief(value));
    }
    for (const auto& [key, v] : value.items()) {
      if (!v.is_string()) {
        fail("\"__metadata__\" value for " + jsonQuoted(key) + " must be a string, got " + brief(v));
      }
      out.emplace(key, v.get<std::string>());
    }
  }

  TensorInfo readEntry(const std::string& name, const json& value, uint64_t dataSize) const {
    const std::string where = "tensor " + jsonQuoted(name) + ": ";
    if (!value.is_object()) fail(where + "entry must be a JSON object, got " + brief(value));
    const auto field = [&](const char* key) -> const json& {
      const auto it = value.find(key);
      if (it == value.end()) fail(where + "missing \"" + key + "\"");
      return *it;
    };

    TensorInfo info;
    info.name = name;

    const json& dtype = field("dtype");
    if (!dtype.is_string()) fail(where + "\"dtype\" must be a string, got " + brief(dtype));
    const auto parsed = parseDType(dtype.get_ref<const std::string&>());
    if (!parsed) {
      fail(where + "unknown dtype " + brief(dtype) + " (supported: " + supportedDTypes() + ")");
    }
    info.dtype = *parsed;

    const json& shape = field("shape");
    if (!shape.is_array()) {
      fail(where + "\"shape\" must be an array of non-negative integers, got " + brief(shape));
    }
    for (size_t i = 0; i < shape.size(); ++i) {
      const json& d = shape[i];
      // Non-negative integers parse as unsigned; negatives as signed, fractions as float.
      if (!d.is_number_unsigned()) {
        fail(where + "shape dimension " + std::to_string(i) + " is " + brief(d) +
             ", must be a non-negative integer");
      }
      const uint64_t v = d.get<uint64_t>();
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        fail(where + "shape dimension " + std::to_string(i) + " is " + std::to_string(v) +
             ", larger than 2^63 - 1");
      }
      info.shape.push_back(static_cast<int64_t>(v));
    }
    if (!shapeFits(info.shape)) {
      fail(where + "shape " + shapeText(info.shape) + " has more than 2^63 - 1 elements");
    }

    const json& offsets = field("data_offsets");
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned() ||
        offsets[0].get<uint64_t>() > offsets[1].get<uint64_t>()) {
      fail(where + "\"data_offsets\" must be two ascending non-negative integers [begin, end], got " +
           brief(offsets));
    }
    info.begin = offsets[0].get<uint64_t>();
    info.end = offsets[1].get<uint64_t>();

    const auto needed = byteCount(info.numel(), info.dtype);
    if (!needed || *needed != info.end - info.begin) {
      fail(where + "shape " + shapeText(info.shape) + " of " + dtypeName(info.dtype) + " needs " +
           byteCountText(needed) + " bytes, but data_offsets " + rangeText(info.begin, info.end) +
           " span " + std::to_string(info.end - info.begin));
    }
    if (info.end > dataSize) {
      fail(where + "data_offsets " + rangeText(info.begin, info.end) +
           " run past the end of the data section (" + std::to_string(dataSize) +
           " bytes); the file may be truncated");
    }
    return info;
  }

  // Tensors sorted by offset must tile [0, dataSize) exactly, as the reference requires.
  void checkLayout(const std::vector<TensorInfo>& tensors, uint64_t dataSize) const {
    uint64_t expected = 0;
    const TensorInfo* previous = nullptr;
    for (const TensorInfo& t : tensors) {
      if (t.begin > expected) {
        if (!previous) {
          fail("tensor " + jsonQuoted(t.name) + " begins at byte " + std::to_string(t.begin) +
               " of the data section, but the first tensor must begin at 0");
        }
        fail("gap of " + std::to_string(t.begin - expected) + " bytes between tensor " +
             jsonQuoted(previous->name) + " " + rangeText(previous->begin, previous->end) +
             " and tensor " + jsonQuoted(t.name) + " " + rangeText(t.begin, t.end));
      }
      if (t.begin < expected) {
        fail("tensors " + jsonQuoted(previous->name) + " " +
             rangeText(previous->begin, previous->end) + " and " + jsonQuoted(t.name) + " " +
             rangeText(t.begin, t.end) + " overlap");
      }
      expected = t.end;
      previous = &t;
    }
    if (expected != dataSize) {
      fail(std::to_string(dataSize - expected) +
           " bytes left over at the end of the data section (tensors end at byte " +
           std::to_string(expected) + " of " + std::to_string(dataSize) + ")");
    }
  }

 private:
  const std::string& path_;
};

// ---- writing ----------------------------------------------------------------------------

// Validates the tensors and returns the padded JSON header, in the reference writer's format:
// compact, "__metadata__" first, keys of each entry in the order dtype, shape, data_offsets.
std::string buildHeader(const std::string& origin, const std::vector<TensorToWrite>& tensors,
                        const std::map<std::string, std::string>& metadata) {
  const auto fail = [&](const std::string& what) -> void {
    throw SafetensorsError(origin + ": " + what);
  };
  const auto jsonString = [&](const std::string& s, const std::string& what) {
    try {
      return json(s).dump();
    } catch (const json::type_error&) {
      fail(what + " " + jsonQuoted(s) + " is not valid UTF-8");
      return std::string();
    }
  };

  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [key, value] : metadata) {
      header += (first ? "" : ",") + jsonString(key, "metadata key") + ":" +
                jsonString(value, "metadata value for " + jsonQuoted(key));
      first = false;
    }
    header += "}";
  }

  std::unordered_set<std::string> names;
  uint64_t offset = 0;
  for (const TensorToWrite& t : tensors) {
    const std::string where = "tensor " + jsonQuoted(t.name) + ": ";
    if (t.name == "__metadata__") fail("\"__metadata__\" is reserved and cannot name a tensor");
    if (!names.insert(t.name).second) fail("duplicate tensor name " + jsonQuoted(t.name));
    for (int64_t d : t.shape)
      if (d < 0) fail(where + "shape " + shapeText(t.shape) + " has a negative dimension");
    if (!shapeFits(t.shape)) {
      fail(where + "shape " + shapeText(t.shape) + " has more than 2^63 - 1 elements");
    }
    TensorInfo info;
    info.shape = t.shape;
    const auto needed = byteCount(info.numel(), t.dtype);
    if (!needed || *needed != t.nbytes) {
      fail(where + "shape " + shapeText(t.shape) + " of " + dtypeName(t.dtype) + " needs " +
           byteCountText(needed) + " bytes, but nbytes is " + std::to_string(t.nbytes));
    }
    if (t.nbytes > 0 && t.data == nullptr) fail(where + "data is null");

    std::string shape = "[";
    for (size_t i = 0; i < t.shape.size(); ++i) shape += (i ? "," : "") + std::to_string(t.shape[i]);
    shape += "]";
    header += (header.size() > 1 ? "," : "") + jsonString(t.name, "tensor name") +
              ":{\"dtype\":\"" + dtypeName(t.dtype) + "\",\"shape\":" + shape +
              ",\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + t.nbytes) + "]}";
    offset += t.nbytes;
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');
  if (header.size() > kMaxHeaderSize) {
    fail("header would be " + std::to_string(header.size()) + " bytes, over the " +
         std::to_string(kMaxHeaderSize) + "-byte limit that readers accept");
  }
  return header;
}

void emit(std::ostream& out, const std::string& header, const std::vector<TensorToWrite>& tensors) {
  char prefix[8];
  uint64_t n = header.size();
  for (char& byte : prefix) {  // little-endian, whatever the host
    byte = static_cast<char>(n & 0xFF);
    n >>= 8;
  }
  out.write(prefix, sizeof prefix);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  for (const TensorToWrite& t : tensors) {
    if (t.nbytes > 0) out.write(static_cast<const char*>(t.data), static_cast<std::streamsize>(t.nbytes));
  }
}

}  // namespace

// ---- dtype helpers ----------------------------------------------------------------------

size_t dtypeSize(DType dtype) { return entryFor(dtype).size; }
const char* dtypeName(DType dtype) { return entryFor(dtype).name; }

std::optional<DType> parseDType(std::string_view name) {
  for (const auto& e : kDTypes)
    if (name == e.name) return e.dtype;
  return std::nullopt;
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// ---- SafetensorsFile --------------------------------------------------------------------

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  Reader reader(path);
  SafetensorsFile file;
  file.path_ = path;

  // O_NONBLOCK so that a FIFO given by mistake is refused below instead of blocking here.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) reader.fail("cannot open: " + std::system_category().message(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    reader.fail("cannot read file size: " + std::system_category().message(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    reader.fail(S_ISDIR(st.st_mode) ? "is a folder, expected a .safetensors file"
                                    : "is not a regular file");
  }
  const uint64_t fileSize = static_cast<uint64_t>(st.st_size);
  if (fileSize < 8) {
    ::close(fd);
    reader.fail("file is " + std::to_string(fileSize) +
                " bytes long, too short for a safetensors file (at least 8 bytes)");
  }
  void* mapping = ::mmap(nullptr, fileSize, PROT_READ, MAP_PRIVATE, fd, 0);
  const int mapError = errno;
  ::close(fd);  // the mapping keeps the file open
  if (mapping == MAP_FAILED) reader.fail("cannot map file: " + std::system_category().message(mapError));
  file.mapping_ = mapping;
  file.mappingSize_ = fileSize;
  const auto* bytes = static_cast<const unsigned char*>(mapping);

  uint64_t headerSize = 0;
  for (int i = 7; i >= 0; --i) headerSize = (headerSize << 8) | bytes[i];
  if (headerSize == 0) reader.fail("header length is 0; not a safetensors file");
  if (headerSize > fileSize) {
    reader.fail("header length " + std::to_string(headerSize) + " exceeds file size " +
                std::to_string(fileSize));
  }
  if (headerSize > fileSize - 8) {
    reader.fail("header length " + std::to_string(headerSize) +
                " plus the 8-byte length prefix exceeds file size " + std::to_string(fileSize));
  }
  if (headerSize > kMaxHeaderSize) {
    reader.fail("header length " + std::to_string(headerSize) + " exceeds the limit of " +
                std::to_string(kMaxHeaderSize) + " bytes");
  }
  file.dataStart_ = 8 + headerSize;
  const uint64_t dataSize = fileSize - file.dataStart_;

  const char* headerBegin = reinterpret_cast<const char*>(bytes + 8);
  const json header = reader.parseHeader(headerBegin, headerBegin + headerSize);
  if (!header.is_object()) {
    reader.fail(std::string("header is a JSON ") + header.type_name() + ", expected an object");
  }
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      reader.readMetadata(value, file.metadata_);
    } else {
      file.tensors_.push_back(reader.readEntry(name, value, dataSize));
    }
  }
  std::sort(file.tensors_.begin(), file.tensors_.end(),
            [](const TensorInfo& a, const TensorInfo& b) {
              return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
            });
  reader.checkLayout(file.tensors_, dataSize);
  for (size_t i = 0; i < file.tensors_.size(); ++i) file.index_.emplace(file.tensors_[i].name, i);
  return file;
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&& other) noexcept
    : path_(std::move(other.path_)),
      mapping_(std::exchange(other.mapping_, nullptr)),
      mappingSize_(std::exchange(other.mappingSize_, 0)),
      dataStart_(std::exchange(other.dataStart_, 0)),
      tensors_(std::move(other.tensors_)),
      index_(std::move(other.index_)),
      metadata_(std::move(other.metadata_)) {}

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& other) noexcept {
  if (this != &other) {
    unmap();
    path_ = std::move(other.path_);
    mapping_ = std::exchange(other.mapping_, nullptr);
    mappingSize_ = std::exchange(other.mappingSize_, 0);
    dataStart_ = std::exchange(other.dataStart_, 0);
    tensors_ = std::move(other.tensors_);
    index_ = std::move(other.index_);
    metadata_ = std::move(other.metadata_);
  }
  return *this;
}

SafetensorsFile::~SafetensorsFile() { unmap(); }

void SafetensorsFile::unmap() noexcept {
  if (mapping_) ::munmap(mapping_, mappingSize_);
  mapping_ = nullptr;
  mappingSize_ = 0;
}

const TensorInfo* SafetensorsFile::find(std::string_view name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const std::byte* SafetensorsFile::data(const TensorInfo& info) const {
  const uint64_t dataSize = mapping_ ? mappingSize_ - dataStart_ : 0;
  if (!mapping_ || info.begin > info.end || info.end > dataSize) {
    throw SafetensorsError(path_ + ": tensor " + jsonQuoted(info.name) + " " +
                           rangeText(info.begin, info.end) +
                           " lies outside this file's data section");
  }
  return static_cast<const std::byte*>(mapping_) + dataStart_ + info.begin;
}

// ---- writing ----------------------------------------------------------------------------

void writeSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  const std::string header = buildHeader(path, tensors, metadata);
  writeFileAtomically(path, [&](std::ostream& out) { emit(out, header, tensors); });
}

std::string serializeSafetensors(const std::vector<TensorToWrite>& tensors,
                                 const std::map<std::string, std::string>& metadata) {
  const std::string header = buildHeader("safetensors", tensors, metadata);
  std::ostringstream out;
  emit(out, header, tensors);
  return std::move(out).str();
}

}  // namespace attnx
