/*!
 * \file resolve_prim_func.cc
 * \brief Validation of the extractor's input: which function the user meant, or why not.
 */
#include <tpgnn/graph_extractor.h>
#include <tpgnn/type_registry.h>
#include <tvm/ffi/container/map.h>
#include <tvm/ffi/error.h>
#include <tvm/ffi/function.h>
#include <tvm/ffi/reflection/accessor.h>

#include <string_view>

namespace tpgnn {
namespace ffi = tvm::ffi;

const TVMFFIObject* ResolvePrimFunc(const ffi::AnyView& input) {
  constexpr const char* kExpected =
      "expected a scheduled tirx.PrimFunc or an IRModule holding exactly one PrimFunc";
  const TVMFFIAny* raw = reinterpret_cast<const TVMFFIAny*>(&input);
  if (!(raw->type_index != kTVMFFINone)) TVM_FFI_THROW(TypeError) << kExpected << ", got None";
  if (!(IsObject(*raw) && !IsString(*raw)))
    TVM_FFI_THROW(TypeError) << kExpected << ", got a value of type '" << input.GetTypeKey() << "'";
  const auto* obj = static_cast<const TVMFFIObject*>(raw->v_obj);
  static const int32_t prim_func_index = TypeIndexOf("tirx.PrimFunc");
  static const int32_t module_index = TypeIndexOf("ir.IRModule");
  if (obj->type_index == prim_func_index) return obj;
  if (!(obj->type_index == module_index))
    TVM_FFI_THROW(TypeError) << kExpected << ", got an object of type '"
                             << TypeKeyOf(obj->type_index) << "'";

  // IRModule: read its reflected `functions` map generically.
  ffi::Any functions;
  ffi::reflection::ForEachFieldInfo(TVMFFIGetTypeInfo(module_index), [&](const TVMFFIFieldInfo* f) {
    if (std::string_view(f->name.data, f->name.size) != "functions") return;
    TVMFFIAny out{};
    void* addr = reinterpret_cast<char*>(const_cast<TVMFFIObject*>(obj)) + f->offset;
    TVM_FFI_CHECK_SAFE_CALL(f->getter(addr, &out));
    functions = ffi::details::AnyUnsafe::MoveTVMFFIAnyToAny(&out);
  });
  auto map = functions.try_cast<ffi::Map<ffi::Any, ffi::Any>>();
  if (!(map.has_value()))
    TVM_FFI_THROW(TypeError) << "the IRModule has no readable `functions` map";
  if (!(map->size() == 1))
    TVM_FFI_THROW(ValueError) << kExpected << ", but the IRModule holds " << map->size()
                              << " functions; pass one of them, e.g. mod[\"main\"]";
  const ffi::Any& func = (*map->begin()).second;
  const TVMFFIAny* func_raw = ffi::details::AnyUnsafe::TVMFFIAnyPtrFromAny(func);
  if (!(IsObject(*func_raw) && func_raw->type_index == prim_func_index))
    TVM_FFI_THROW(TypeError) << kExpected << ", but the IRModule's function is a '"
                             << func.GetTypeKey() << "'";
  // The module holds the function, and the caller holds the module.
  return static_cast<const TVMFFIObject*>(func_raw->v_obj);
}

}  // namespace tpgnn
