"""The FocusNet scripted module: pick a volume and a model file, press Apply, get a segmentation node.

The network runs out of Slicer's process in the FocusNetSegmentation CLI module (slicer.cli.run), so LibTorch never
loads into Slicer. The parts that need no Slicer (model header, CLI parameters) are in FocusNetLib.
"""
import os
import tempfile

import ctk
import qt
import slicer
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)

from FocusNetLib import ModelFileError, cli_parameters, describe_model, read_model_header

LAST_MODEL_SETTING = "FocusNet/LastModelFile"


class FocusNet(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = "FocusNet"
        self.parent.categories = ["Segmentation"]
        self.parent.dependencies = ["FocusNetSegmentation"]
        self.parent.contributors = ["FocusNet for ITK and 3D Slicer"]
        self.parent.helpText = (
            "Segments a volume with a FocusNet model file (Kaul, Manandhar, Pears, ISBI 2019). The result is a "
            "segmentation whose segment is named, coloured and coded as the model file says, ready for the Segment "
            "Editor. Leave the model empty for the installed default model.")
        self.parent.acknowledgementText = "FocusNet: Kaul, Manandhar and Pears, ISBI 2019."


class FocusNetWidget(ScriptedLoadableModuleWidget):
    def setup(self):
        ScriptedLoadableModuleWidget.setup(self)
        panel = slicer.util.loadUI(self.resourcePath("UI/FocusNet.ui"))
        self.layout.addWidget(panel)
        self.ui = slicer.util.childWidgetVariables(panel)
        panel.setMRMLScene(slicer.mrmlScene)
        self.logic = FocusNetLogic()
        self.cliNode = None

        self.ui.modelPathLineEdit.filters = ctk.ctkPathLineEdit.Files
        self.ui.modelPathLineEdit.nameFilters = ["FocusNet model (*.fnm)"]
        self.ui.modelPathLineEdit.currentPath = qt.QSettings().value(LAST_MODEL_SETTING, "")
        self.ui.modelPathLineEdit.connect("currentPathChanged(QString)", self.onModelChanged)
        self.ui.inputVolumeSelector.connect("currentNodeChanged(vtkMRMLNode*)", self.updateButtons)
        self.ui.applyButton.connect("clicked(bool)", self.onApply)
        self.ui.cancelButton.connect("clicked(bool)", self.onCancel)
        self.onModelChanged(self.ui.modelPathLineEdit.currentPath)

    def onModelChanged(self, path):
        qt.QSettings().setValue(LAST_MODEL_SETTING, path)
        if not path:
            self.ui.modelInfoLabel.text = "The installed default model (lung CT)."
        else:
            try:
                self.ui.modelInfoLabel.text = describe_model(read_model_header(path))
            except ModelFileError as error:
                self.ui.modelInfoLabel.text = str(error)
        self.updateButtons()

    def updateButtons(self, *unused):
        running = self.cliNode is not None and self.cliNode.IsBusy()
        self.ui.applyButton.enabled = self.ui.inputVolumeSelector.currentNode() is not None and not running
        self.ui.cancelButton.enabled = running

    def onApply(self):
        with slicer.util.tryWithErrorDisplay("FocusNet segmentation failed.", waitCursor=True):
            self.cliNode = self.logic.start(
                self.ui.inputVolumeSelector.currentNode(), self.ui.modelPathLineEdit.currentPath,
                device=self.ui.deviceComboBox.currentText, threads=self.ui.threadsSpinBox.value,
                batch_size=self.ui.batchSizeSpinBox.value, threshold=self.ui.thresholdSpinBox.value,
                tta=self.ui.ttaCheckBox.checked)
            self.ui.progressBar.setCommandLineModuleNode(self.cliNode)
            self.cliNode.AddObserver(slicer.vtkMRMLCommandLineModuleNode.StatusModifiedEvent, self.onStatus)
            self.updateButtons()

    def onCancel(self):
        if self.cliNode is not None:
            self.cliNode.Cancel()

    def onStatus(self, cliNode, event):
        if cliNode.IsBusy():
            return
        self.updateButtons()
        if cliNode.GetStatus() == cliNode.Completed:
            with slicer.util.tryWithErrorDisplay("Loading the FocusNet segmentation failed."):
                self.logic.finish(cliNode)


class FocusNetLogic(ScriptedLoadableModuleLogic):
    """GUI-free: runs the FocusNetSegmentation CLI module and loads its .seg.nrrd as a segmentation node."""

    def start(self, inputVolume, modelFile="", device="auto", threads=0, batch_size=8, threshold=0.0, tta=False,
              wait=False):
        if inputVolume is None:
            raise ValueError("Choose an input volume.")
        if modelFile:
            read_model_header(modelFile)  # a clear message now rather than a failed run
        labels = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", inputVolume.GetName() + " FocusNet")
        folder = tempfile.mkdtemp(prefix="FocusNet-")
        parameters = cli_parameters(inputVolume.GetID(), labels.GetID(), os.path.join(folder, "FocusNet.seg.nrrd"),
                                    modelFile, device, threads, batch_size, threshold, tta)
        cliNode = slicer.cli.run(slicer.modules.focusnetsegmentation, None, parameters, wait_for_completion=wait,
                                 update_display=False)
        cliNode.SetAttribute("FocusNet.InputVolume", inputVolume.GetID())
        cliNode.SetAttribute("FocusNet.LabelVolume", labels.GetID())
        cliNode.SetAttribute("FocusNet.SegmentationFile", parameters["outputSegmentation"])
        return cliNode

    def finish(self, cliNode):
        """The segmentation node of a completed run, referencing the input volume; the label volume is removed."""
        if cliNode.GetStatus() != cliNode.Completed:
            raise RuntimeError("FocusNetSegmentation did not complete: " + cliNode.GetErrorText())
        inputVolume = slicer.mrmlScene.GetNodeByID(cliNode.GetAttribute("FocusNet.InputVolume"))
        segmentation = slicer.util.loadSegmentation(cliNode.GetAttribute("FocusNet.SegmentationFile"))
        segmentation.SetName(inputVolume.GetName() + " FocusNet")
        segmentation.SetReferenceImageGeometryParameterFromVolumeNode(inputVolume)
        segmentation.CreateClosedSurfaceRepresentation()
        labels = slicer.mrmlScene.GetNodeByID(cliNode.GetAttribute("FocusNet.LabelVolume"))
        if labels is not None:
            slicer.mrmlScene.RemoveNode(labels)
        return segmentation

    def process(self, inputVolume, modelFile="", **options):
        """Runs to the end and returns the segmentation node (scripts and the test)."""
        return self.finish(self.start(inputVolume, modelFile, wait=True, **options))


class FocusNetTest(ScriptedLoadableModuleTest):
    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_ChestCtGivesANamedColouredLungSegment()

    def test_ChestCtGivesANamedColouredLungSegment(self):
        import SampleData

        volume = SampleData.downloadSample("CTChest")
        segmentation = FocusNetLogic().process(volume, threads=0)
        segments = segmentation.GetSegmentation()
        self.assertEqual(segments.GetNumberOfSegments(), 1)
        segment = segments.GetNthSegment(0)
        self.assertEqual(segment.GetName(), "Lung")
        self.assertAlmostEqual(segment.GetColor()[1], 174 / 255.0, places=3)
        voxels = slicer.util.arrayFromSegmentBinaryLabelmap(segmentation, segments.GetNthSegmentID(0), volume)
        self.assertGreater(voxels.sum(), 100000)  # both lungs of a chest CT
