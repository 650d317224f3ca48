// A small, strict reader and writer for the safetensors format (no LibTorch, no Qt).
//
// Layout: 8-byte little-endian header length N, N bytes of JSON header, then the data section.
// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
// relative to the data section) plus an optional "__metadata__" string→string map.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace attnx {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

size_t dtypeSize(DType dtype);          // bytes per element
const char* dtypeName(DType dtype);     // the safetensors spelling: "F32", "BF16", "BOOL", ...
std::optional<DType> parseDType(std::string_view name);  // exact, case-sensitive

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;  // empty for a 0-d scalar
  uint64_t begin = 0, end = 0; // byte offsets in the data section
  // Product of the dimensions (1 for a scalar). Shapes read from a file are checked at open()
  // so that this cannot overflow, in whatever order the dimensions are multiplied.
  int64_t numel() const;
};

struct SafetensorsError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A safetensors file, memory-mapped read-only and fully validated at open(): every tensor's
// bytes lie inside the file, tensors tile the data section exactly, names are unique.
//
// Known limits: data() is not necessarily aligned for its dtype (the format does not promise
// it); copy with memcpy rather than casting when alignment matters. If another process
// truncates the file while it is mapped, reading the lost pages raises SIGBUS.
class SafetensorsFile {
 public:
  // Throws SafetensorsError "<path>: <what is wrong>".
  static SafetensorsFile open(const std::string& path);

  SafetensorsFile(SafetensorsFile&& other) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&& other) noexcept;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  ~SafetensorsFile();

  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // ordered by offset
  const TensorInfo* find(std::string_view name) const;                // nullptr if absent
  // Pointer to the first byte of `info` in the mapping (valid while this object lives). Throws
  // SafetensorsError if `info` does not describe a byte range of this file.
  const std::byte* data(const TensorInfo& info) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::string& path() const { return path_; }

 private:
  SafetensorsFile() = default;
  void unmap() noexcept;

  std::string path_;
  void* mapping_ = nullptr;
  size_t mappingSize_ = 0;
  uint64_t dataStart_ = 0;  // 8 + header length
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> index_;  // name -> position in tensors_
  std::map<std::string, std::string> metadata_;
};

struct TensorToWrite {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  size_t nbytes = 0;  // must equal numel × dtypeSize
};

// Writes atomically (temporary file in the same folder + rename). Tensors are laid out in the
// given order with no padding between them (put wider dtypes first if alignment matters); the
// header is padded with spaces to a multiple of 8 bytes, as the reference implementation does.
// An empty metadata map writes no "__metadata__" entry. Throws SafetensorsError "<path>: ..."
// for bad input (duplicate or reserved name, size mismatch, invalid UTF-8) and
// std::runtime_error for I/O failures.
void writeSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// The same bytes, in memory. Errors read "safetensors: ...".
std::string serializeSafetensors(const std::vector<TensorToWrite>& tensors,
                                 const std::map<std::string, std::string>& metadata = {});

}  // namespace attnx
