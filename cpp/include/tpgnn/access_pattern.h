/*!
 * \file tpgnn/access_pattern.h
 * \brief Memory-access features of buffer loads and stores: their stride along the enclosing
 *  loops, and how many of those loops touch new elements or reuse the same ones.
 *
 * MetaSchedule's XGBModel describes every store by such facts (PerStoreFeature). In the graph
 * they are index arithmetic several edges away from the access, behind block-variable bindings,
 * which message passing recovers poorly; so the pass works them out once and writes them on
 * the access node (columns kAccessInnermostStride ... kAccessApproximate).
 *
 * Indices are read as affine forms in the loop variables: block variables are replaced by the
 * values their SBlockRealize binds, buffers are flattened row-major (or by explicit constant
 * strides). What is not affine (a floordiv that does not divide, min, a loaded index...) still
 * counts as depending on its variables, with the access marked approximate.
 */
#ifndef TPGNN_ACCESS_PATTERN_H_
#define TPGNN_ACCESS_PATTERN_H_

#include <tvm/ffi/c_api.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace tpgnn {

/*! \brief A loop around an access, as the walk saw it. */
struct EnclosingLoop {
  const TVMFFIObject* var;  // For.loop_var
  float log_extent;         // the loop's loop_extent feature
  bool single_iteration;    // its extent is the constant 1: it moves nothing
};

/*!
 * \brief Works out the access columns of loads and stores; holds the block-variable bindings
 *  of the function being walked.
 *
 * Not thread-safe; the extractor owns one. On a TVM whose IR lacks one of the types it reads,
 * it stays disabled and the columns stay 0.
 */
class AccessAnalyzer {
 public:
  AccessAnalyzer();
  ~AccessAnalyzer();
  AccessAnalyzer(const AccessAnalyzer&) = delete;
  AccessAnalyzer& operator=(const AccessAnalyzer&) = delete;

  /*! \brief Forgets the bindings of the previous function. */
  void Reset();
  /*! \brief Whether objects of this type are buffer accesses (ir.TensorLoad, tirx.BufferStore). */
  bool IsAccess(int32_t type_index) const;
  /*! \brief Whether objects of this type bind block variables (s_tir.SBlockRealize). */
  bool IsBlockRealize(int32_t type_index) const;
  /*! \brief Records the affine forms that `realize` binds its block's variables to. */
  void BindBlockVars(const TVMFFIObject* realize);
  /*!
   * \brief Writes the access columns of `row` for the access `access`.
   * \param loops The enclosing loops, innermost first.
   */
  void WriteFeatures(const TVMFFIObject* access, const std::vector<EnclosingLoop>& loops,
                     float* row);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tpgnn

#endif  // TPGNN_ACCESS_PATTERN_H_
