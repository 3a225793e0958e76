# ITK module description, for ITK build trees that add FocusNet as a remote module.
# With Debian's installed ITK 5.2 (no ITKModuleExternal) the top-level CMakeLists.txt builds the same targets.
set(DOCUMENTATION "FocusNet (Kaul et al., ISBI 2019) attention-gated ResNet+SE segmentation network:
slice-wise LibTorch inference as an ITK image filter, producing label maps with the input's geometry.")

itk_module(FocusNet
  DEPENDS
    ITKCommon
    ITKImageFilterBase
  COMPILE_DEPENDS
    ITKImageSources
  TEST_DEPENDS
    ITKTestKernel
    ITKGoogleTest
    ITKIOImageBase
  DESCRIPTION
    "${DOCUMENTATION}"
  EXCLUDE_FROM_DEFAULT
)
