# The ITK module FocusNet: itk::FocusNetImageFilter, for ITK build trees that add it as a remote or external
# module (see CMakeLists.txt). Its only ITK dependency is ITKCommon (ImageToImageFilter, region iterators); the
# LibTorch core it runs is found by itk-module-init.cmake and built from ../core.
set(DOCUMENTATION "FocusNet (Kaul et al., ISBI 2019) attention-gated ResNet+SE segmentation network:
slice-wise LibTorch inference as an ITK image filter, producing label maps with the input's geometry.")

itk_module(FocusNet
  DEPENDS
    ITKCommon
  DESCRIPTION
    "${DOCUMENTATION}"
  EXCLUDE_FROM_DEFAULT
)
