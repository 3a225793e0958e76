// Segments a synthetic image with an untrained model through the installed headers and FocusNet::ITKFilter alone.
#include "focusnetModel.h"
#include "itkFocusNetImageFilter.h"

#include <cstdlib>
#include <iostream>

int
main()
{
  using ImageType = itk::Image<float, 2>;
  auto image = ImageType::New();
  image->SetRegions(itk::Size<2>{ { 40, 30 } });
  image->Allocate();
  image->FillBuffer(100.0F);
  image->SetSpacing(itk::Vector<double, 2>(0.7));

  focusnet::ModelMetadata metadata;
  metadata.architecture.width = 0.125;
  metadata.inputSize = 32;

  auto filter = itk::FocusNetImageFilter<ImageType>::New();
  filter->SetInput(image);
  filter->SetModel(std::make_shared<const focusnet::Model>(focusnet::Model::Create(metadata)));
  filter->SetDevice("cpu");
  filter->Update();
  const bool sameGeometry = filter->GetOutput()->GetLargestPossibleRegion() == image->GetLargestPossibleRegion() &&
                            filter->GetOutput()->GetSpacing() == image->GetSpacing();
  std::cout << "consumer: segmented " << image->GetLargestPossibleRegion().GetNumberOfPixels() << " pixels, geometry "
            << (sameGeometry ? "kept" : "LOST") << std::endl;
  return sameGeometry ? EXIT_SUCCESS : EXIT_FAILURE;
}
