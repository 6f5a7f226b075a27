/*!
 * \file ffi_api.cc
 * \brief The `tpgnn.*` global functions: graph extraction and the layouts it depends on.
 */
#include <tpgnn/graph_extractor.h>
#include <tpgnn/node_features.h>
#include <tpgnn/node_type_vocabulary.h>
#include <tvm/ffi/container/array.h>
#include <tvm/ffi/container/tensor.h>
#include <tvm/ffi/reflection/registry.h>
#include <tvm/ffi/string.h>

#include <utility>
#include <vector>

namespace tpgnn {
namespace ffi = tvm::ffi;

namespace {

/*! \brief NDAlloc that adopts a std::vector, so the tensor owns the extractor's buffer. */
template <typename T>
struct VectorAlloc {
  std::vector<T> data;
  void AllocData(DLTensor* tensor) { tensor->data = data.data(); }
  void FreeData(DLTensor*) {}
};

template <typename T>
ffi::Tensor AdoptAsTensor(std::vector<T>&& data, std::vector<int64_t> shape) {
  // An empty vector may have no buffer; DLPack consumers want a valid pointer all the same.
  if (data.capacity() == 0) data.reserve(1);
  return ffi::Tensor::FromNDAlloc(
      VectorAlloc<T>{std::move(data)}, ffi::ShapeView(shape.data(), shape.size()),
      DLDataType{static_cast<uint8_t>(std::is_floating_point_v<T> ? kDLFloat : kDLInt),
                 static_cast<uint8_t>(sizeof(T) * 8), 1},
      DLDevice{kDLCPU, 0});
}

}  // namespace

/*!
 * \brief Extracts the program graph of a scheduled PrimFunc (or a one-function IRModule).
 * \return [node_type int32 [N], node_features float32 [N, F], row_ptr int64 [N + 1],
 *          col int64 [E], edge_type int64 [E]], each sharing the extractor's memory.
 */
ffi::Array<ffi::Tensor> ExtractGraph(ffi::AnyView func) {
  const TVMFFIObject* root = ResolvePrimFunc(func);
  thread_local GraphExtractor extractor;
  ProgramGraph g = extractor.Extract(root);
  const int64_t n = g.num_nodes();
  const int64_t e = static_cast<int64_t>(g.col.size());
  return ffi::Array<ffi::Tensor>{
      AdoptAsTensor(std::move(g.node_type), {n}),
      AdoptAsTensor(std::move(g.node_features), {n, static_cast<int64_t>(kNumNodeFeatures)}),
      AdoptAsTensor(std::move(g.row_ptr), {n + 1}),
      AdoptAsTensor(std::move(g.col), {e}),
      AdoptAsTensor(std::move(g.edge_type), {e}),
  };
}

/*! \brief The node-type vocabulary: index i is the type key of node-type id i. */
ffi::Array<ffi::String> NodeTypeVocabulary() {
  ffi::Array<ffi::String> out;
  for (std::string_view key : NodeTypeKeys()) out.push_back(ffi::String(key.data(), key.size()));
  return out;
}

/*! \brief Names of the node-feature columns, in order. */
ffi::Array<ffi::String> NodeFeatureNames() {
  ffi::Array<ffi::String> out;
  for (const char* name : kNodeFeatureNames) out.push_back(ffi::String(name));
  return out;
}

/*! \brief Names of the edge types, indexed by the value stored in `edge_type`. */
ffi::Array<ffi::String> EdgeTypeNames() {
  ffi::Array<ffi::String> out;
  for (const char* name : kEdgeTypeNames) out.push_back(ffi::String(name));
  return out;
}

TVM_FFI_STATIC_INIT_BLOCK() {
  namespace refl = tvm::ffi::reflection;
  refl::GlobalDef()
      .def("tpgnn.extract_graph", ExtractGraph)
      .def("tpgnn.node_type_vocabulary", NodeTypeVocabulary)
      .def("tpgnn.node_feature_names", NodeFeatureNames)
      .def("tpgnn.edge_type_names", EdgeTypeNames);
}

}  // namespace tpgnn
