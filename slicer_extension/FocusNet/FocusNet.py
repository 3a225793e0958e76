"""The FocusNet scripted module: pick a volume and a model file, press Apply, get a segmentation node.

The network runs out of Slicer's process in the FocusNetSegmentation CLI module (slicer.cli.run), so LibTorch never
loads into Slicer. The parts that need no Slicer (model header, the CLI's options read from its XML, run outcomes and
clean-up) are in FocusNetLib.
"""
import os
import tempfile
from pathlib import Path
from typing import Annotated

import ctk
import slicer
import vtk
from slicer import vtkMRMLScalarVolumeNode
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

from FocusNetLib import (
    CLI_MODULE,
    ModelDescriptions,
    RunScratch,
    cli_parameters,
    end_run,
    read_cli_parameters,
    read_model_header,
)


def _cliDescription():
    """The CLI module's XML: beside it in lib/Slicer-X.Y/cli-modules, in the build tree as in the package (this file
    is in lib/Slicer-X.Y/qt-scripted-modules), or in the source tree."""
    here = Path(__file__).resolve().parent
    candidates = [here.parent / "cli-modules" / (CLI_MODULE + ".xml"), here.parent / CLI_MODULE / (CLI_MODULE + ".xml")]
    return next((c for c in candidates if c.is_file()), candidates[0])


# The panel offers the CLI module's options with the defaults, ranges and choices of its XML.
CLI_OPTIONS = read_cli_parameters(_cliDescription())


def _within(name):
    return WithinRange(CLI_OPTIONS[name].minimum, CLI_OPTIONS[name].maximum)


@parameterNodeWrapper
class FocusNetParameterNode:
    """The panel's state, saved with the scene. modelFile: empty for the extension's default model."""
    inputVolume: vtkMRMLScalarVolumeNode
    modelFile: str = ""
    device: Annotated[str, Choice(list(CLI_OPTIONS["device"].choices))] = CLI_OPTIONS["device"].default
    precision: Annotated[str, Choice(list(CLI_OPTIONS["precision"].choices))] = CLI_OPTIONS["precision"].default
    batchSize: Annotated[int, _within("batchSize")] = CLI_OPTIONS["batchSize"].default
    threads: Annotated[int, _within("threads")] = CLI_OPTIONS["threads"].default
    threshold: Annotated[float, _within("threshold")] = CLI_OPTIONS["threshold"].default
    tta: bool = CLI_OPTIONS["tta"].default


class FocusNet(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = "FocusNet"
        self.parent.categories = ["Segmentation"]
        # The CLI module is looked for when a run starts, not declared as a dependency: Slicer would not load this
        # module at all without it (as when it runs with --disable-cli-modules); the panel says why Apply is off.
        self.parent.dependencies = []
        self.parent.contributors = ["FocusNet developers (FocusNet for ITK and 3D Slicer)"]
        self.parent.helpText = (
            "Segments a volume with a FocusNet model file (Kaul, Manandhar, Pears, ISBI 2019). The result is a "
            "segmentation whose segment is named, coloured and coded as the model file says, ready for the Segment "
            "Editor. Leave the model empty for the default model installed with the extension.")
        self.parent.acknowledgementText = "FocusNet: Kaul, Manandhar and Pears, ISBI 2019."


class FocusNetWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None):
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self.cliNode = None
        self.descriptions = ModelDescriptions()

    def setup(self):
        ScriptedLoadableModuleWidget.setup(self)
        panel = slicer.util.loadUI(self.resourcePath("UI/FocusNet.ui"))
        self.layout.addWidget(panel)
        self.ui = slicer.util.childWidgetVariables(panel)
        panel.setMRMLScene(slicer.mrmlScene)
        self.logic = FocusNetLogic()

        self.ui.modelPathLineEdit.filters = ctk.ctkPathLineEdit.Files
        self.ui.modelPathLineEdit.nameFilters = ["FocusNet model (*.fnm)"]
        self.ui.modelPathLineEdit.connect("currentPathChanged(QString)", self.onModelPathEdited)
        self.ui.applyButton.connect("clicked(bool)", self.onApply)
        self.ui.cancelButton.connect("clicked(bool)", self.onCancel)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.initializeParameterNode()

    def cleanup(self):
        self.removeObservers()

    def enter(self):
        self.initializeParameterNode()

    def exit(self):
        self.setParameterNode(None)

    def onSceneStartClose(self, caller, event):
        # A run on the closing scene is cancelled; its end then removes what it made (the node only if still there).
        if self.cliNode is not None and self.cliNode.IsBusy():
            self.cliNode.Cancel()
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event):
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self):
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.inputVolume:
            volumes = [v for v in slicer.util.getNodesByClass("vtkMRMLScalarVolumeNode")
                       if not v.IsA("vtkMRMLLabelMapVolumeNode")]
            if volumes:
                self._parameterNode.inputVolume = volumes[0]

    def setParameterNode(self, parameterNode):
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.updatePanel)
        self._parameterNode = parameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.updatePanel)
        self.updatePanel()

    def onModelPathEdited(self, path):
        if self._parameterNode and self._parameterNode.modelFile != path:
            self._parameterNode.modelFile = path

    def updatePanel(self, caller=None, event=None):
        model = self._parameterNode.modelFile if self._parameterNode else ""
        if self.ui.modelPathLineEdit.currentPath != model:
            self.ui.modelPathLineEdit.currentPath = model
        self.ui.modelInfoLabel.text = self.descriptions.describe(model)
        running = self.cliNode is not None and self.cliNode.IsBusy()
        reason = self.logic.cannotRunBecause()
        if reason is None and not (self._parameterNode and self._parameterNode.inputVolume):
            reason = "Choose an input volume."
        self.ui.applyButton.enabled = reason is None and not running
        self.ui.applyButton.toolTip = reason or "Segment the input volume with the model."
        self.ui.cancelButton.enabled = running
        if reason and not running:
            self.ui.statusLabel.text = reason

    def onApply(self):
        node = self._parameterNode
        self.ui.statusLabel.text = ""
        with slicer.util.tryWithErrorDisplay("FocusNet segmentation could not start.", waitCursor=True):
            options = {name: getattr(node, name) for name in CLI_OPTIONS}  # every option the XML offers
            self.cliNode = self.logic.start(node.inputVolume, node.modelFile, **options)
            self.ui.progressBar.setCommandLineModuleNode(self.cliNode)
            self.addObserver(self.cliNode, slicer.vtkMRMLCommandLineModuleNode.StatusModifiedEvent, self.onRunStatus)
            self.ui.statusLabel.text = "Running..."
            self.updatePanel()

    def onCancel(self):
        if self.cliNode is not None and self.cliNode.IsBusy():
            self.ui.statusLabel.text = "Cancelling..."
            self.cliNode.Cancel()

    def onRunStatus(self, cliNode, event):
        if cliNode.IsBusy():
            return
        self.removeObserver(cliNode, slicer.vtkMRMLCommandLineModuleNode.StatusModifiedEvent, self.onRunStatus)
        segmentation, message = self.logic.finish(cliNode)
        self.ui.statusLabel.text = message
        self.updatePanel()


class FocusNetLogic(ScriptedLoadableModuleLogic):
    """GUI-free: runs the FocusNetSegmentation CLI module and loads its .seg.nrrd as a segmentation node."""

    def __init__(self, parent=None):
        ScriptedLoadableModuleLogic.__init__(self, parent)
        self._scratch = {}  # CLI node ID: what the run made besides its result

    def getParameterNode(self):
        return FocusNetParameterNode(super().getParameterNode())

    @staticmethod
    def cannotRunBecause():
        """Why no run can start (the CLI module is not loaded), or None."""
        if not hasattr(slicer.modules, CLI_MODULE.lower()):
            return ("The %s CLI module is not loaded (is Slicer running without CLI modules?), so Apply is off."
                    % CLI_MODULE)
        return None

    @staticmethod
    def _removeNode(node):
        # By the node itself, not its ID: a scene closed meanwhile may give the ID to another node.
        if slicer.mrmlScene.IsNodePresent(node):
            slicer.mrmlScene.RemoveNode(node)

    def start(self, inputVolume, modelFile="", wait=False, **options):
        """Starts the CLI module on the volume (options by the XML's names) and returns its node."""
        reason = self.cannotRunBecause()
        if reason:
            raise RuntimeError(reason)
        if inputVolume is None:
            raise ValueError("Choose an input volume.")
        if modelFile:
            read_model_header(modelFile)  # a clear message now rather than a failed run
        folder = tempfile.mkdtemp(prefix="FocusNet-")
        labels = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", inputVolume.GetName() + " FocusNet")
        labels.HideFromEditorsOn()  # not offered as an input while the run writes it
        scratch = RunScratch(folder, labels, self._removeNode)
        try:
            parameters = cli_parameters(CLI_OPTIONS, inputVolume.GetID(), labels.GetID(),
                                        os.path.join(folder, "FocusNet.seg.nrrd"), modelFile, **options)
            cliNode = slicer.cli.run(getattr(slicer.modules, CLI_MODULE.lower()), None, parameters,
                                     wait_for_completion=wait, update_display=False)
            if cliNode is None:
                raise RuntimeError("Slicer could not start the %s CLI module." % CLI_MODULE)
            cliNode.SetAttribute("FocusNet.InputVolume", inputVolume.GetID())
            cliNode.SetAttribute("FocusNet.SegmentationFile", parameters["outputSegmentation"])
        except Exception:
            scratch.release()
            raise
        self._scratch[cliNode.GetID()] = scratch
        return cliNode

    def finish(self, cliNode):
        """For a run that has ended: (the segmentation node of a completed run, else None; the panel's message).
        Whatever the outcome, the label volume and the temporary folder are removed."""
        return end_run(cliNode, self._scratch.pop(cliNode.GetID(), None), lambda: self._loadSegmentation(cliNode))

    def _loadSegmentation(self, cliNode):
        inputVolume = slicer.mrmlScene.GetNodeByID(cliNode.GetAttribute("FocusNet.InputVolume"))
        if inputVolume is None:
            raise RuntimeError("the input volume was removed during the run")
        segmentation = slicer.util.loadSegmentation(cliNode.GetAttribute("FocusNet.SegmentationFile"))
        try:
            segmentation.SetName(inputVolume.GetName() + " FocusNet")
            segmentation.SetReferenceImageGeometryParameterFromVolumeNode(inputVolume)
            segmentation.CreateClosedSurfaceRepresentation()
            # The file is in the run's temporary folder, which goes now: saving the scene writes the node anew.
            slicer.mrmlScene.RemoveNode(segmentation.GetStorageNode())
        except Exception:
            slicer.mrmlScene.RemoveNode(segmentation)
            raise
        return segmentation

    def process(self, inputVolume, modelFile="", **options):
        """Runs to the end and returns the segmentation node (scripts and the test); a failed run raises."""
        segmentation, message = self.finish(self.start(inputVolume, modelFile, wait=True, **options))
        if segmentation is None:
            raise RuntimeError(message)
        return segmentation


class FocusNetTest(ScriptedLoadableModuleTest):
    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_ChestCtGivesANamedColouredLungSegment()
        self.setUp()
        self.test_AFailedRunSaysWhyAndLeavesNothing()

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
        self.assertEqual(slicer.mrmlScene.GetNodesByClass("vtkMRMLLabelMapVolumeNode").GetNumberOfItems(), 0)

    def test_AFailedRunSaysWhyAndLeavesNothing(self):
        import numpy as np

        volume = slicer.util.addVolumeFromArray(np.zeros((2, 8, 8), np.int16), name="tiny")
        model = Path(tempfile.mkdtemp(prefix="FocusNetTest-")) / "cut.fnm"
        cli = Path(getattr(slicer.modules, CLI_MODULE.lower()).path)  # lib/Slicer-X.Y/cli-modules/<CLI>
        default = cli.parents[3] / "share" / cli.parents[1].name / "FocusNet" / "models" / "focusnet-lung.fnm"
        model.write_bytes(default.read_bytes()[:200000])  # the header intact, the tensors cut short
        logic = FocusNetLogic()
        cliNode = logic.start(volume, str(model), wait=True)
        folder = Path(logic._scratch[cliNode.GetID()].folder)
        segmentation, message = logic.finish(cliNode)
        self.assertIsNone(segmentation)
        self.assertIn("cut.fnm", message)
        self.assertFalse(folder.exists())
        self.assertEqual(slicer.mrmlScene.GetNodesByClass("vtkMRMLLabelMapVolumeNode").GetNumberOfItems(), 0)
