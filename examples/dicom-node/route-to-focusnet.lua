-- Orthanc: sends each CT series to the FocusNet DICOM node (the modality "focusnet" of orthanc-focusnet.json) once it
-- is stable, in one association, through Orthanc's own REST API. The SEGs the node sends back are series of modality
-- SEG, so they are not sent on: no loop (and the node would ignore them anyway).
function OnStableSeries(seriesId, tags, metadata)
  if tags["Modality"] == "CT" then
    print("FocusNet: sending series " .. seriesId .. " to the DICOM node")
    RestApiPost("/modalities/focusnet/store", seriesId)
  end
end
