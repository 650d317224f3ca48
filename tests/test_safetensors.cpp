// Tests for the safetensors reader/writer and the atomic file writer: every rejection with its
// exact message, round trips for every dtype, and byte-exact output checked against bytes
// written out by hand.
#include "core/io/atomic_file.h"
#include "core/io/safetensors.h"
#include "tests/support/test_support.h"

#include <QDir>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QtTest>

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <stdexcept>

using namespace attnx;

namespace {

// 8-byte little-endian length prefix, spelled out without relying on the code under test.
std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return s;
}

void writeRaw(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  QVERIFY2(out.good(), path.c_str());
}

std::string readRaw(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The message SafetensorsFile::open throws for `path`, or a marker if it opens.
QString openError(const std::string& path) {
  try {
    SafetensorsFile::open(path);
  } catch (const SafetensorsError& e) {
    return QString::fromStdString(e.what());
  }
  return QStringLiteral("<opened without error>");
}

QString errorOf(const std::function<void()>& f) { return QString::fromStdString(attnx::test::errorOf(f)); }

QStringList filesIn(const QString& dir) {
  return QDir(dir).entryList(QDir::Files | QDir::Hidden | QDir::System, QDir::Name);
}

}  // namespace

class TestSafetensors : public QObject {
  Q_OBJECT

 private:
  std::unique_ptr<QTemporaryDir> dir_;
  std::string file(const char* name) const { return dir_->filePath(name).toStdString(); }

  // A file made of the header as given (unpadded) followed by `dataBytes` zero bytes.
  std::string makeFile(const std::string& header, uint64_t dataBytes) {
    const std::string path = file("t.safetensors");
    writeRaw(path, le64(header.size()) + header + std::string(dataBytes, '\0'));
    return path;
  }

 private Q_SLOTS:
  void init() {
    dir_ = std::make_unique<QTemporaryDir>();
    QVERIFY(dir_->isValid());
  }
  void cleanup() { dir_.reset(); }

  // ---- dtype helpers ----

  void dtypeTable() {
    const DType all[] = {DType::F64, DType::F32, DType::F16, DType::BF16, DType::I64,
                         DType::I32, DType::I16, DType::I8,  DType::U8,   DType::BOOL};
    const size_t sizes[] = {8, 4, 2, 2, 8, 4, 2, 1, 1, 1};
    const char* names[] = {"F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"};
    for (int i = 0; i < 10; ++i) {
      QCOMPARE(dtypeSize(all[i]), sizes[i]);
      QCOMPARE(QString(dtypeName(all[i])), QString(names[i]));
      QVERIFY(parseDType(names[i]) == all[i]);
    }
    QVERIFY(!parseDType("f32"));
    QVERIFY(!parseDType("F8_E4M3"));
    QVERIFY(!parseDType(""));
  }

  // ---- file-level rejections ----

  void rejectsMissingFile() {
    const std::string path = file("absent.safetensors");
    QCOMPARE(openError(path), QString::fromStdString(path + ": cannot open: No such file or directory"));
  }

  void rejectsUnreadableFile() {
    if (::geteuid() == 0) QSKIP("running as root: permissions do not stop reading");
    const std::string path = makeFile("{}      ", 0);
    QCOMPARE(::chmod(path.c_str(), 0), 0);
    QCOMPARE(openError(path), QString::fromStdString(path + ": cannot open: Permission denied"));
  }

  void rejectsFolder() {
    const std::string path = dir_->path().toStdString();
    QCOMPARE(openError(path), QString::fromStdString(path + ": is a folder, expected a .safetensors file"));
  }

  void rejectsFifo() {
    const std::string path = file("fifo");
    QCOMPARE(::mkfifo(path.c_str(), 0600), 0);
    QCOMPARE(openError(path), QString::fromStdString(path + ": is not a regular file"));
  }

  void rejectsShortFile() {
    const std::string path = file("short.safetensors");
    writeRaw(path, std::string("\x05\0\0\0\0", 5));
    QCOMPARE(openError(path),
             QString::fromStdString(path + ": file is 5 bytes long, too short for a safetensors file (at least 8 bytes)"));
  }

  void rejectsEmptyFile() {
    const std::string path = file("empty.safetensors");
    writeRaw(path, "");
    QCOMPARE(openError(path),
             QString::fromStdString(path + ": file is 0 bytes long, too short for a safetensors file (at least 8 bytes)"));
  }

  void rejectsHeaderLengthZero() {
    const std::string path = file("zero.safetensors");
    writeRaw(path, le64(0) + "{}");
    QCOMPARE(openError(path), QString::fromStdString(path + ": header length is 0; not a safetensors file"));
  }

  void rejectsHeaderLengthBeyondFile() {
    const std::string path = file("huge.safetensors");
    writeRaw(path, le64(UINT64_MAX) + std::string(112, ' '));
    QCOMPARE(openError(path),
             QString::fromStdString(path + ": header length 18446744073709551615 exceeds file size 120"));
  }

  void rejectsHeaderLengthPlusPrefixBeyondFile() {
    const std::string path = file("prefix.safetensors");
    writeRaw(path, le64(16) + "{}            ");  // 8 + 14 bytes: the header would need 16
    QCOMPARE(openError(path),
             QString::fromStdString(path + ": header length 16 plus the 8-byte length prefix exceeds file size 22"));
  }

  void rejectsHeaderOverCap() {
    // A sparse file just over the 100 MB cap: costs no disk space and the reader touches only
    // its first page before refusing.
    const std::string path = file("cap.safetensors");
    writeRaw(path, le64(100'000'001));
    QCOMPARE(::truncate(path.c_str(), 8 + 100'000'001), 0);
    QCOMPARE(openError(path),
             QString::fromStdString(path + ": header length 100000001 exceeds the limit of 100000000 bytes"));
  }

  // ---- header rejections, one row each ----

  void rejectsBadHeader_data() {
    QTest::addColumn<QByteArray>("header");
    QTest::addColumn<int>("dataBytes");
    QTest::addColumn<QString>("expected");
    const QByteArray f32x1 = R"("dtype":"F32","shape":[1])";

    QTest::newRow("not JSON") << QByteArray(R"({"a": )") << 0
        << "header is not valid JSON (it ends unexpectedly after 6 bytes); the file is damaged or not a safetensors file";
    QTest::newRow("trailing garbage") << QByteArray("{} x") << 0
        << "header is not valid JSON (error at byte 4 of 4); the file is damaged or not a safetensors file";
    QTest::newRow("invalid UTF-8 in a name") << QByteArray("{\"\xff\":1}") << 0
        << "header is not valid JSON (error at byte 3 of 7); the file is damaged or not a safetensors file";
    QTest::newRow("NUL padding") << QByteArray("{}\0\0\0\0\0\0", 8) << 0
        << "header is not valid JSON (NUL at byte 3 of 8); the file is damaged or not a safetensors file";
    QTest::newRow("number out of range") << QByteArray(R"({"__metadata__":{"k":1e400}})") << 0
        << "header holds a number too large to represent; the file is damaged or not a safetensors file";
    QTest::newRow("array header") << QByteArray("[1,2]") << 0
        << "header is a JSON array, expected an object";
    QTest::newRow("string header") << QByteArray(R"("hello")") << 0
        << "header is a JSON string, expected an object";
    QTest::newRow("too deep") << QByteArray(R"({"w":)") + QByteArray(100, '[') << 0
        << "header nests JSON more than 64 levels deep; not a safetensors header";

    QTest::newRow("entry not an object") << QByteArray(R"({"w":[1]})") << 0
        << R"(tensor "w": entry must be a JSON object, got [1])";
    QTest::newRow("missing dtype") << QByteArray(R"({"w":{"shape":[1],"data_offsets":[0,4]}})") << 4
        << R"(tensor "w": missing "dtype")";
    QTest::newRow("missing shape") << QByteArray(R"({"w":{"dtype":"F32","data_offsets":[0,4]}})") << 4
        << R"(tensor "w": missing "shape")";
    QTest::newRow("missing data_offsets") << "{\"w\":{" + f32x1 + "}}" << 4
        << R"(tensor "w": missing "data_offsets")";
    QTest::newRow("dtype not a string") << QByteArray(R"({"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}})") << 4
        << R"(tensor "w": "dtype" must be a string, got 4)";
    QTest::newRow("unknown dtype") << QByteArray(R"({"w":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}})") << 1
        << R"(tensor "w": unknown dtype "F8_E4M3" (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL))";
    QTest::newRow("lower-case dtype") << QByteArray(R"({"w":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}})") << 4
        << R"(tensor "w": unknown dtype "f32" (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL))";
    QTest::newRow("shape not an array") << QByteArray(R"({"w":{"dtype":"F32","shape":3,"data_offsets":[0,12]}})") << 12
        << R"(tensor "w": "shape" must be an array of non-negative integers, got 3)";
    QTest::newRow("negative dimension") << QByteArray(R"({"w":{"dtype":"F32","shape":[2,-3],"data_offsets":[0,24]}})") << 24
        << R"(tensor "w": shape dimension 1 is -3, must be a non-negative integer)";
    QTest::newRow("fractional dimension") << QByteArray(R"({"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})") << 8
        << R"(tensor "w": shape dimension 0 is 2.5, must be a non-negative integer)";
    QTest::newRow("float-spelled dimension") << QByteArray(R"({"w":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})") << 8
        << R"(tensor "w": shape dimension 0 is 2.0, must be a non-negative integer)";
    QTest::newRow("string dimension") << QByteArray(R"({"w":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}})") << 8
        << R"(tensor "w": shape dimension 0 is "2", must be a non-negative integer)";
    QTest::newRow("dimension over int64") << QByteArray(R"({"w":{"dtype":"U8","shape":[9223372036854775808],"data_offsets":[0,0]}})") << 0
        << R"(tensor "w": shape dimension 0 is 9223372036854775808, larger than 2^63 - 1)";
    QTest::newRow("element count overflows") << QByteArray(R"({"w":{"dtype":"U8","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}})") << 0
        << R"(tensor "w": shape [4294967296, 4294967296, 0] has more than 2^63 - 1 elements)";
    QTest::newRow("byte count overflows") << QByteArray(R"({"w":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,8]}})") << 8
        << R"(tensor "w": shape [4611686018427387904] of F64 needs more than 18446744073709551615 bytes, but data_offsets [0, 8] span 8)";

    QTest::newRow("offsets not an array") << "{\"w\":{" + f32x1 + R"(,"data_offsets":"0-4"}})" << 4
        << R"(tensor "w": "data_offsets" must be two ascending non-negative integers [begin, end], got "0-4")";
    QTest::newRow("one offset") << "{\"w\":{" + f32x1 + R"(,"data_offsets":[4]}})" << 4
        << R"(tensor "w": "data_offsets" must be two ascending non-negative integers [begin, end], got [4])";
    QTest::newRow("three offsets") << "{\"w\":{" + f32x1 + R"(,"data_offsets":[0,4,8]}})" << 4
        << R"(tensor "w": "data_offsets" must be two ascending non-negative integers [begin, end], got [0,4,8])";
    QTest::newRow("negative offset") << "{\"w\":{" + f32x1 + R"(,"data_offsets":[-4,0]}})" << 4
        << R"(tensor "w": "data_offsets" must be two ascending non-negative integers [begin, end], got [-4,0])";
    QTest::newRow("fractional offset") << "{\"w\":{" + f32x1 + R"(,"data_offsets":[0,4.0]}})" << 4
        << R"(tensor "w": "data_offsets" must be two ascending non-negative integers [begin, end], got [0,4.0])";
    QTest::newRow("string offset") << "{\"w\":{" + f32x1 + R"(,"data_offsets":[0,"4"]}})" << 4
        << R"(tensor "w": "data_offsets" must be two ascending non-negative integers [begin, end], got [0,"4"])";
    QTest::newRow("descending offsets") << "{\"w\":{" + f32x1 + R"(,"data_offsets":[4,0]}})" << 4
        << R"(tensor "w": "data_offsets" must be two ascending non-negative integers [begin, end], got [4,0])";

    QTest::newRow("byte count mismatch") << QByteArray(R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})") << 20
        << R"(tensor "w": shape [2, 3] of F32 needs 24 bytes, but data_offsets [0, 20] span 20)";
    QTest::newRow("offsets past the data") << QByteArray(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})") << 4
        << R"(tensor "w": data_offsets [0, 8] run past the end of the data section (4 bytes); the file may be truncated)";
    QTest::newRow("offsets far past the data") << QByteArray(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[18446744073709551614,18446744073709551615]}})") << 4
        << R"(tensor "w": data_offsets [18446744073709551614, 18446744073709551615] run past the end of the data section (4 bytes); the file may be truncated)";
    QTest::newRow("overlap") << QByteArray(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})") << 12
        << R"(tensors "a" [0, 8] and "b" [4, 12] overlap)";
    QTest::newRow("same range twice") << QByteArray(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}})") << 4
        << R"(tensors "a" [0, 4] and "b" [0, 4] overlap)";
    QTest::newRow("empty tensor inside another") << QByteArray(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}})") << 8
        << R"(tensors "a" [0, 8] and "e" [4, 4] overlap)";
    QTest::newRow("gap") << QByteArray(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})") << 12
        << R"(gap of 4 bytes between tensor "a" [0, 4] and tensor "b" [8, 12])";
    QTest::newRow("first not at 0") << QByteArray(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})") << 8
        << R"(tensor "a" begins at byte 4 of the data section, but the first tensor must begin at 0)";
    QTest::newRow("bytes left over") << QByteArray(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})") << 8
        << "4 bytes left over at the end of the data section (tensors end at byte 4 of 8)";
    QTest::newRow("data but no tensors") << QByteArray("{}") << 3
        << "3 bytes left over at the end of the data section (tensors end at byte 0 of 3)";

    QTest::newRow("duplicate tensor name") << QByteArray(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})") << 2
        << R"(duplicate tensor name "w")";
    QTest::newRow("duplicate key in entry") << QByteArray(R"({"w":{"dtype":"U8","dtype":"I8","shape":[1],"data_offsets":[0,1]}})") << 1
        << R"(duplicate key "dtype" inside tensor "w")";
    QTest::newRow("duplicate __metadata__") << QByteArray(R"({"__metadata__":{},"__metadata__":{}})") << 0
        << R"(duplicate "__metadata__")";
    QTest::newRow("duplicate metadata key") << QByteArray(R"({"__metadata__":{"k":"a","k":"b"}})") << 0
        << R"(duplicate key "k" inside "__metadata__")";
    QTest::newRow("metadata not an object") << QByteArray(R"({"__metadata__":["a"]})") << 0
        << R"("__metadata__" must be a JSON object of strings, got ["a"])";
    QTest::newRow("metadata value not a string") << QByteArray(R"({"__metadata__":{"epoch":3}})") << 0
        << R"("__metadata__" value for "epoch" must be a string, got 3)";
    QTest::newRow("metadata value nested") << QByteArray(R"({"__metadata__":{"cfg":{"a":"b"}}})") << 0
        << R"("__metadata__" value for "cfg" must be a string, got {"a":"b"})";
    QTest::newRow("long value shortened") << QByteArray(R"({"__metadata__":{"k":[)") + QByteArray("1,").repeated(40) + "1]}}" << 0
        << R"("__metadata__" value for "k" must be a string, got [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,...)";
  }

  void rejectsBadHeader() {
    QFETCH(QByteArray, header);
    QFETCH(int, dataBytes);
    QFETCH(QString, expected);
    const std::string path = makeFile(header.toStdString(), static_cast<uint64_t>(dataBytes));
    QCOMPARE(openError(path), QString::fromStdString(path) + ": " + expected);
  }

  // ---- accepted files ----

  void acceptsHeaderWithWhitespaceAndUnknownKeys() {
    // Other writers pad differently and may add keys; both are harmless.
    const std::string path = makeFile(
        " { \"w\" : { \"dtype\" : \"I16\", \"shape\" : [ 2 ], \"data_offsets\" : [ 0 , 4 ], \"x\": null } }\n\t", 4);
    const SafetensorsFile st = SafetensorsFile::open(path);
    QCOMPARE(st.tensors().size(), size_t(1));
    QCOMPARE(st.tensors()[0].dtype, DType::I16);
  }

  void acceptsNoTensors() {
    const std::string path = makeFile("{}", 0);
    const SafetensorsFile st = SafetensorsFile::open(path);
    QVERIFY(st.tensors().empty());
    QVERIFY(st.metadata().empty());
    QCOMPARE(st.path(), path);
  }

  void acceptsEmptyTensorsSharingAnOffset() {
    const std::string path = makeFile(
        R"({"z1":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},)"
        R"("a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
        R"("z2":{"dtype":"F64","shape":[4,0],"data_offsets":[2,2]},)"
        R"("z3":{"dtype":"BOOL","shape":[0],"data_offsets":[2,2]}})", 2);
    const SafetensorsFile st = SafetensorsFile::open(path);
    QStringList order;
    for (const TensorInfo& t : st.tensors()) order << QString::fromStdString(t.name);
    QCOMPARE(order, QStringList({"z1", "a", "z2", "z3"}));  // by (begin, end, name)
    QCOMPARE(st.find("z2")->numel(), int64_t(0));
  }

  // 200,000 entries (a hostile header; nlohmann's callback parser took quadratic time: 11.5 s for
  // 40,000) are read whole, with the last one findable.
  void acceptsManyEmptyTensors() {
    std::string header = "{";
    for (int i = 0; i < 200000; ++i)
      header += (i ? ",\"z" : "\"z") + std::to_string(i) + "\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}";
    header += "}";
    const SafetensorsFile st = SafetensorsFile::open(makeFile(header, 0));
    QCOMPARE(st.tensors().size(), size_t(200000));
    QCOMPARE(st.find("z199999")->numel(), int64_t(0));
  }

  void tensorsAreOrderedByOffset() {
    const std::string path = makeFile(
        R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[2,3]},)"
        R"("b":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})", 3);
    const SafetensorsFile st = SafetensorsFile::open(path);
    QCOMPARE(st.tensors()[0].name, std::string("b"));
    QCOMPARE(st.tensors()[1].name, std::string("a"));
    QVERIFY(st.find("c") == nullptr);
    QCOMPARE(st.find("a")->begin, uint64_t(2));
  }

  // ---- writer: byte-exact output ----

  void writerBytesMatchHandComputed() {
    const float values[] = {1.0f, -2.0f};
    const std::string bytes = serializeSafetensors(
        {{"a", DType::F32, {2}, values, sizeof values}}, {{"k", "v"}});

    // 79 bytes of JSON + 1 space of padding = 80 = 0x50; then 1.0f and -2.0f little-endian.
    const std::string header =
        R"({"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} )";
    QCOMPARE(header.size(), size_t(80));
    const std::string expected = std::string("\x50\0\0\0\0\0\0\0", 8) + header +
                                 std::string("\x00\x00\x80\x3f\x00\x00\x00\xc0", 8);
    QCOMPARE(QByteArray::fromStdString(bytes).toHex(' '), QByteArray::fromStdString(expected).toHex(' '));
  }

  void writerBytesNoTensors() {
    QCOMPARE(serializeSafetensors({}), std::string("\x08\0\0\0\0\0\0\0{}      ", 16));
  }

  void writerHeaderIsPaddedToEight_data() {
    QTest::addColumn<QString>("name");
    for (const char* n : {"a", "ab", "abc", "abcd", "abcde", "abcdef", "abcdefg", "abcdefgh"})
      QTest::newRow(n) << QString(n);
  }

  void writerHeaderIsPaddedToEight() {
    QFETCH(QString, name);
    const uint8_t byte = 7;
    const std::string bytes = serializeSafetensors({{name.toStdString(), DType::U8, {1}, &byte, 1}});
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
    QCOMPARE(n % 8, uint64_t(0));
    QCOMPARE(bytes.size(), size_t(8 + n + 1));
    QVERIFY(bytes[8 + n - 1] == '}' || bytes[8 + n - 1] == ' ');
  }

  // ---- round trips ----

  void roundTripEveryDType() {
    struct Case {
      const char* name;
      DType dtype;
      std::vector<int64_t> shape;
    };
    const std::vector<Case> cases = {
        {"f64", DType::F64, {2, 3}},   {"f32", DType::F32, {3}},      {"f16", DType::F16, {2, 2}},
        {"bf16", DType::BF16, {5}},    {"i64", DType::I64, {1, 1, 2}}, {"i32", DType::I32, {4}},
        {"i16", DType::I16, {3, 1}},   {"i8", DType::I8, {7}},        {"u8", DType::U8, {2, 5}},
        {"bool", DType::BOOL, {3}},    {"scalar", DType::F32, {}},    {"empty", DType::F32, {0, 4}},
        {"empty1d", DType::I64, {0}},  {"scalar_bf16", DType::BF16, {}},
    };
    std::vector<std::string> buffers;
    std::vector<TensorToWrite> tensors;
    int seed = 1;
    for (const Case& c : cases) {
      int64_t numel = 1;
      for (int64_t d : c.shape) numel *= d;
      std::string buf(static_cast<size_t>(numel) * dtypeSize(c.dtype), '\0');
      for (char& b : buf) b = static_cast<char>(seed++ * 37);
      if (c.dtype == DType::BOOL)
        for (char& b : buf) b = static_cast<char>(b & 1);
      buffers.push_back(buf);
    }
    for (size_t i = 0; i < cases.size(); ++i)
      tensors.push_back({cases[i].name, cases[i].dtype, cases[i].shape, buffers[i].data(), buffers[i].size()});

    const std::string path = file("all.safetensors");
    writeSafetensors(path, tensors);
    QCOMPARE(readRaw(path), serializeSafetensors(tensors));  // file and memory give the same bytes

    const SafetensorsFile st = SafetensorsFile::open(path);
    QCOMPARE(st.tensors().size(), cases.size());
    uint64_t offset = 0;
    for (size_t i = 0; i < cases.size(); ++i) {
      const TensorInfo& t = st.tensors()[i];  // laid out in the order given
      QCOMPARE(t.name, std::string(cases[i].name));
      QCOMPARE(t.dtype, cases[i].dtype);
      QCOMPARE(t.shape, cases[i].shape);
      QCOMPARE(t.begin, offset);
      QCOMPARE(t.end - t.begin, uint64_t(buffers[i].size()));
      QCOMPARE(uint64_t(t.numel()) * dtypeSize(t.dtype), uint64_t(buffers[i].size()));
      QVERIFY(std::memcmp(st.data(t), buffers[i].data(), buffers[i].size()) == 0);
      QCOMPARE(st.find(cases[i].name), &t);
      offset = t.end;
    }
    QCOMPARE(st.find("scalar")->numel(), int64_t(1));
    QVERIFY(st.find("scalar")->shape.empty());
    QCOMPARE(st.find("empty")->numel(), int64_t(0));
  }

  void roundTripMetadata() {
    const std::map<std::string, std::string> metadata = {
        {"format", "pt"},
        {"quote\"and\\backslash", "line\nbreak\ttab"},
        {"unicode", "caf\xc3\xa9 \xe2\x9c\x93"},
        {"empty", ""},
        {"json", R"({"a": [1, 2]})"},
    };
    const int32_t v = -5;
    const std::string path = file("meta.safetensors");
    writeSafetensors(path, {{"v", DType::I32, {}, &v, sizeof v}}, metadata);
    const SafetensorsFile st = SafetensorsFile::open(path);
    QVERIFY(st.metadata() == metadata);
    int32_t back = 0;
    std::memcpy(&back, st.data(*st.find("v")), sizeof back);
    QCOMPARE(back, v);
  }

  void roundTripOnlyMetadata() {
    const std::string path = file("only_meta.safetensors");
    writeSafetensors(path, {}, {{"k", "v"}});
    const SafetensorsFile st = SafetensorsFile::open(path);
    QVERIFY(st.tensors().empty());
    QCOMPARE(st.metadata().at("k"), std::string("v"));
  }

  void roundTripUnicodeName() {
    const uint8_t b = 1;
    const std::string name = "h.0.\xce\xb1ttn/\"w\"";
    const std::string path = file("name.safetensors");
    writeSafetensors(path, {{name, DType::U8, {1}, &b, 1}});
    const SafetensorsFile st = SafetensorsFile::open(path);
    QVERIFY(st.find(name) != nullptr);
  }

  // ---- the SafetensorsFile object ----

  void moveKeepsMappingValid() {
    const double x[] = {1.5, 2.5};
    const std::string path = file("move.safetensors");
    writeSafetensors(path, {{"x", DType::F64, {2}, x, sizeof x}});
    SafetensorsFile a = SafetensorsFile::open(path);
    const std::byte* p = a.data(*a.find("x"));
    SafetensorsFile b = std::move(a);
    QCOMPARE(b.data(*b.find("x")), p);
    SafetensorsFile c = SafetensorsFile::open(path);
    c = std::move(b);
    double back[2];
    std::memcpy(back, c.data(*c.find("x")), sizeof back);
    QCOMPARE(back[1], 2.5);
    QCOMPARE(c.path(), path);
  }

  void dataRejectsForeignTensorInfo() {
    const uint8_t b = 1;
    const std::string path = file("one.safetensors");
    writeSafetensors(path, {{"b", DType::U8, {1}, &b, 1}});
    const SafetensorsFile st = SafetensorsFile::open(path);
    TensorInfo other;
    other.name = "elsewhere";
    other.begin = 0;
    other.end = 64;
    QCOMPARE(errorOf([&] { st.data(other); }),
             QString::fromStdString(path + R"(: tensor "elsewhere" [0, 64] lies outside this file's data section)"));
  }

  void openMappingSurvivesReplacement() {
    // Atomic replacement swaps the directory entry: a reader holding the old mapping keeps
    // reading the old, complete contents.
    const int32_t v1 = 111, v2 = 222;
    const std::string path = file("replace.safetensors");
    writeSafetensors(path, {{"v", DType::I32, {1}, &v1, 4}});
    const SafetensorsFile old = SafetensorsFile::open(path);
    writeSafetensors(path, {{"v", DType::I32, {1}, &v2, 4}});
    int32_t a = 0, b = 0;
    std::memcpy(&a, old.data(*old.find("v")), 4);
    const SafetensorsFile fresh = SafetensorsFile::open(path);
    std::memcpy(&b, fresh.data(*fresh.find("v")), 4);
    QCOMPARE(a, v1);
    QCOMPARE(b, v2);
  }

  // ---- writer rejections ----

  void writerRejectsBadInput_data() {
    QTest::addColumn<int>("which");
    QTest::addColumn<QString>("expected");
    QTest::newRow("size mismatch") << 0 << R"(tensor "w": shape [2, 3] of F32 needs 24 bytes, but nbytes is 20)";
    QTest::newRow("duplicate name") << 1 << R"(duplicate tensor name "w")";
    QTest::newRow("reserved name") << 2 << R"("__metadata__" is reserved and cannot name a tensor)";
    QTest::newRow("negative dimension") << 3 << R"(tensor "w": shape [2, -1] has a negative dimension)";
    QTest::newRow("null data") << 4 << R"(tensor "w": data is null)";
    QTest::newRow("invalid UTF-8 name") << 5 << "tensor name \"w\xef\xbf\xbd\" is not valid UTF-8";
    QTest::newRow("invalid UTF-8 metadata") << 6 << "metadata value for \"k\" \"\xef\xbf\xbd\" is not valid UTF-8";
    QTest::newRow("element count overflow") << 7 << R"(tensor "w": shape [4294967296, 4294967296] has more than 2^63 - 1 elements)";
  }

  void writerRejectsBadInput() {
    QFETCH(int, which);
    QFETCH(QString, expected);
    const char data[24] = {};
    std::vector<TensorToWrite> tensors;
    std::map<std::string, std::string> metadata;
    switch (which) {
      case 0: tensors = {{"w", DType::F32, {2, 3}, data, 20}}; break;
      case 1: tensors = {{"w", DType::U8, {1}, data, 1}, {"w", DType::U8, {1}, data, 1}}; break;
      case 2: tensors = {{"__metadata__", DType::U8, {1}, data, 1}}; break;
      case 3: tensors = {{"w", DType::U8, {2, -1}, data, 0}}; break;
      case 4: tensors = {{"w", DType::U8, {1}, nullptr, 1}}; break;
      case 5: tensors = {{"w\xff", DType::U8, {1}, data, 1}}; break;
      case 6: metadata = {{"k", "\xff"}}; break;
      case 7: tensors = {{"w", DType::U8, {4294967296, 4294967296}, data, 0}}; break;
    }
    QCOMPARE(errorOf([&] { serializeSafetensors(tensors, metadata); }), "safetensors: " + expected);

    const std::string path = file("bad.safetensors");
    QCOMPARE(errorOf([&] { writeSafetensors(path, tensors, metadata); }), QString::fromStdString(path) + ": " + expected);
    QVERIFY(filesIn(dir_->path()).isEmpty());  // nothing written, not even a temporary file
  }

  // ---- atomic file writing ----

  void atomicWriteCreatesAndReplaces() {
    const std::string path = file("out.txt");
    writeFileAtomically(path, std::string_view("first"));
    QCOMPARE(readRaw(path), std::string("first"));
    writeFileAtomically(path, [](std::ostream& out) { out << "second, " << 2; });
    QCOMPARE(readRaw(path), std::string("second, 2"));
    QCOMPARE(filesIn(dir_->path()), QStringList({"out.txt"}));
  }

  void atomicWriteLargeBlocks() {
    // Exercises both the buffered path (small writes) and the direct path (large blocks).
    std::string big(3 * 65536 + 17, '\0');
    for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31);
    const std::string path = file("big.bin");
    writeFileAtomically(path, [&](std::ostream& out) {
      out.put('<');
      out.write(big.data(), static_cast<std::streamsize>(big.size()));
      for (int i = 0; i < 100000; ++i) out.put(static_cast<char>(i));
    });
    const std::string back = readRaw(path);
    QCOMPARE(back.size(), 1 + big.size() + 100000);
    QCOMPARE(back.substr(1, big.size()), big);
    QCOMPARE(back.back(), static_cast<char>(99999));
  }

  void atomicWriteKeepsOldFileWhenWriterThrows() {
    const std::string path = file("keep.txt");
    writeFileAtomically(path, std::string_view("old contents"));
    const QString error = errorOf([&] {
      writeFileAtomically(path, [](std::ostream& out) {
        out << std::string(200000, 'x');  // some of it already reached the temporary file
        throw std::runtime_error("writer gave up");
      });
    });
    QCOMPARE(error, QStringLiteral("writer gave up"));  // the writer's own exception, unchanged
    QCOMPARE(readRaw(path), std::string("old contents"));
    QCOMPARE(filesIn(dir_->path()), QStringList({"keep.txt"}));
  }

  void atomicWriteNoFileWhenWriterThrows() {
    const std::string path = file("never.txt");
    QVERIFY(!errorOf([&] {
              writeFileAtomically(path, [](std::ostream&) { throw std::logic_error("nope"); });
            }).isEmpty());
    QVERIFY(filesIn(dir_->path()).isEmpty());
  }

  void atomicWriteMissingFolder() {
    const std::string path = file("missing/out.txt");
    const QString error = errorOf([&] { writeFileAtomically(path, std::string_view("x")); });
    const QString p = QRegularExpression::escape(QString::fromStdString(path));
    QVERIFY2(QRegularExpression("^" + p + ": cannot create temporary file " + p +
                                "\\.tmp-[A-Za-z0-9]{6}: No such file or directory$")
                 .match(error)
                 .hasMatch(),
             qPrintable(error));
  }

  void atomicWriteOverFolderFailsCleanly() {
    const std::string path = file("sub");
    QVERIFY(QDir(dir_->path()).mkdir("sub"));
    const QString error = errorOf([&] { writeFileAtomically(path, std::string_view("x")); });
    const QString p = QRegularExpression::escape(QString::fromStdString(path));
    QVERIFY2(QRegularExpression("^" + p + ": cannot rename temporary file " + p +
                                "\\.tmp-[A-Za-z0-9]{6} into place: Is a directory$")
                 .match(error)
                 .hasMatch(),
             qPrintable(error));
    QVERIFY(filesIn(dir_->path()).isEmpty());  // the temporary file is gone
  }

  void atomicWriteUsesUmaskMode() {
    const std::string path = file("mode.txt");
    const mode_t old = ::umask(022);
    writeFileAtomically(path, std::string_view("x"));
    ::umask(old);
    struct stat st {};
    QCOMPARE(::stat(path.c_str(), &st), 0);
    QCOMPARE(st.st_mode & 0777, mode_t(0644));
  }
};

QTEST_APPLESS_MAIN(TestSafetensors)
#include "test_safetensors.moc"
