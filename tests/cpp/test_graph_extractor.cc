/*!
 * \file test_graph_extractor.cc
 * \brief Checks the extractor from C++ alone: TVM's compiler library is loaded through tvm-ffi,
 *  a scheduled PrimFunc is read back from a tvm-ffi JSON fixture, and the `tpgnn.*` global
 *  functions are called with no Python anywhere.
 *
 * Usage: test_graph_extractor LIBTVM_COMPILER FIXTURE_DIR CASE
 *   CASE is a fixture name (e.g. conv2d) or "errors".
 */
#include <dlfcn.h>
#include <tpgnn/node_features.h>
#include <tvm/ffi/container/array.h>
#include <tvm/ffi/container/tensor.h>
#include <tvm/ffi/error.h>
#include <tvm/ffi/function.h>
#include <tvm/ffi/string.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

namespace ffi = tvm::ffi;

namespace {

int failures = 0;

#define EXPECT(cond)                                                              \
  do {                                                                            \
    if (!(cond)) {                                                                \
      std::cerr << __FILE__ << ":" << __LINE__ << ": EXPECT(" #cond ") failed\n"; \
      ++failures;                                                                 \
    }                                                                             \
  } while (0)

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::cerr << "cannot read " << path << "\n";
    std::exit(2);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

template <typename T>
const T* Data(const ffi::Tensor& t) {
  return static_cast<const T*>(t.data_ptr());
}

ffi::Array<ffi::Tensor> Extract(const ffi::Any& func) {
  static ffi::Function extract = ffi::Function::GetGlobalRequired("tpgnn.extract_graph");
  return extract(func).cast<ffi::Array<ffi::Tensor>>();
}

void CheckFixture(const std::string& dir, const std::string& name) {
  static ffi::Function from_json = ffi::Function::GetGlobalRequired("ffi.FromJSONGraphString");
  ffi::Any func = from_json(ffi::String(ReadFile(dir + "/" + name + ".json")));
  std::istringstream expected(ReadFile(dir + "/" + name + ".expected"));
  int64_t want_nodes = 0, want_edges = 0, want_def_use = 0;
  expected >> want_nodes >> want_edges >> want_def_use;

  ffi::Array<ffi::Tensor> g = Extract(func);
  EXPECT(g.size() == 5);
  const ffi::Tensor &node_type = g[0], &features = g[1], &row_ptr = g[2], &col = g[3],
                    &edge_type = g[4];
  const int64_t n = node_type.shape()[0];
  const int64_t e = col.shape()[0];
  EXPECT(n == want_nodes);
  EXPECT(e == want_edges);
  EXPECT(node_type.dtype().code == kDLInt && node_type.dtype().bits == 32);
  EXPECT(features.ndim() == 2 && features.shape()[0] == n &&
         features.shape()[1] == tpgnn::kNumNodeFeatures);
  EXPECT(features.dtype().code == kDLFloat && features.dtype().bits == 32);
  EXPECT(row_ptr.shape()[0] == n + 1 && row_ptr.dtype().bits == 64);
  EXPECT(edge_type.shape()[0] == e);

  int unknown = 0;
  for (int64_t i = 0; i < n; ++i) unknown += Data<int32_t>(node_type)[i] == 0;
  EXPECT(unknown == 0);
  const int64_t* rp = Data<int64_t>(row_ptr);
  EXPECT(rp[0] == 0 && rp[n] == e);
  bool monotone = true, in_range = true;
  for (int64_t i = 0; i < n; ++i) monotone &= rp[i] <= rp[i + 1];
  for (int64_t j = 0; j < e; ++j)
    in_range &= Data<int64_t>(col)[j] >= 0 && Data<int64_t>(col)[j] < n;
  EXPECT(monotone);
  EXPECT(in_range);
  int64_t def_use = 0;
  for (int64_t j = 0; j < e; ++j) def_use += Data<int64_t>(edge_type)[j] == tpgnn::kDefUse;
  EXPECT(def_use == want_def_use && def_use > 0);
  bool finite = true;
  for (int64_t k = 0; k < n * tpgnn::kNumNodeFeatures; ++k) {
    finite &= std::isfinite(Data<float>(features)[k]);
  }
  EXPECT(finite);
  // Every fixture has loads and stores inside loops: some get an access pattern.
  bool has_access_pattern = false;
  for (int64_t i = 0; i < n; ++i) {
    has_access_pattern |=
        Data<float>(features)[i * tpgnn::kNumNodeFeatures + tpgnn::kAccessTouchedExtent] > 0.0f;
  }
  EXPECT(has_access_pattern);

  // Deterministic: a second extraction gives byte-identical arrays in fresh buffers.
  ffi::Array<ffi::Tensor> again = Extract(func);
  for (int k = 0; k < 5; ++k) {
    const size_t bytes = ffi::GetDataSize(*g[k].GetDLTensorPtr());
    EXPECT(again[k].data_ptr() != g[k].data_ptr());
    EXPECT(std::memcmp(again[k].data_ptr(), g[k].data_ptr(), bytes) == 0);
  }
}

/*! \brief Runs `fn`, expecting a tvm-ffi error of `kind` whose message mentions `needle`. */
template <typename Fn>
void ExpectError(Fn fn, const std::string& kind, const std::string& needle) {
  try {
    fn();
    std::cerr << "expected " << kind << " mentioning '" << needle << "', got no error\n";
    ++failures;
  } catch (const ffi::Error& err) {
    EXPECT(err.kind() == kind);
    EXPECT(std::string(err.message()).find(needle) != std::string::npos);
  }
}

void CheckErrors() {
  ExpectError([] { Extract(ffi::Any(nullptr)); }, "TypeError", "got None");
  ExpectError([] { Extract(ffi::Any(42)); }, "TypeError", "'int'");
  ExpectError([] { Extract(ffi::Any(ffi::String("main"))); }, "TypeError", "Str");
  ExpectError([] { Extract(ffi::Any(ffi::Array<ffi::Any>{})); }, "TypeError", "ffi.Array");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: " << argv[0] << " LIBTVM_COMPILER FIXTURE_DIR CASE\n";
    return 2;
  }
  // TVM registers its IR types when its library loads; our extractor finds them by key.
  if (dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL) == nullptr) {
    std::cerr << "cannot load " << argv[1] << ": " << dlerror() << "\n";
    return 2;
  }
  const std::string which = argv[3];
  if (which == "errors") {
    CheckErrors();
  } else {
    CheckFixture(argv[2], which);
  }
  std::cout << which << ": " << (failures == 0 ? "ok" : "FAILED") << "\n";
  return failures == 0 ? 0 : 1;
}
