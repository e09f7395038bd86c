package msdnet.cascade;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Checks a model as the runtime loaded it against what manifest.json declares: every
 * stage's inputs and outputs, by name, with their shapes and dtypes. LiteRT accepts an
 * input buffer of another size by resizing the tensor, and a runner built for one model
 * runs another's buffers silently; this check turns both into a {@link FormatException}
 * naming the tensor, before the first image.
 */
public final class ModelCheck {
    private ModelCheck() {
    }

    /** What the runtime reports about a signature's tensors (null: no such tensor). */
    public interface Tensors {
        /** The input {@code name} of {@code signature} as the model has it, or null. */
        TensorSpec input(String signature, String name) throws Exception;

        /** The output {@code name} of {@code signature} as the model has it, or null. */
        TensorSpec output(String signature, String name) throws Exception;
    }

    /**
     * Checks every cascade stage of {@code manifest} against {@code model}.
     *
     * @param file the model file's name, for messages
     * @throws FormatException on the first tensor that differs
     */
    public static void checkStages(Manifest manifest, Tensors model, String file) {
        for (Manifest.Stage stage : manifest.stages) {
            for (TensorSpec want : stage.inputs) {
                compare(file, stage.signature, "input", want, lookup(model, stage.signature,
                        want.name, true));
            }
            for (TensorSpec want : stage.outputs) {
                compare(file, stage.signature, "output", want, lookup(model, stage.signature,
                        want.name, false));
            }
        }
    }

    private static TensorSpec lookup(Tensors model, String signature, String name, boolean input) {
        try {
            return input ? model.input(signature, name) : model.output(signature, name);
        } catch (Exception e) { // the runtime's "no such tensor"
            return null;
        }
    }

    private static void compare(String file, String signature, String side, TensorSpec want,
                                TensorSpec got) {
        if (got == null) {
            throw new FormatException(file + " has no " + side + " \"" + want.name + "\" in "
                    + "signature " + signature + ", which manifest.json declares: the model and"
                    + " the manifest come from different conversions");
        }
        if (!Arrays.equals(got.shape(), want.shape()) || !got.dtype.equals(want.dtype)) {
            throw new FormatException(file + " signature " + signature + " " + side + " "
                    + got + " differs from manifest.json's " + want + ": the model and the "
                    + "manifest come from different conversions");
        }
    }

    /** A {@link Tensors} over fixed lists (tests, or a runtime that lists its tensors). */
    public static Tensors of(List<Manifest.Stage> stages) {
        List<Manifest.Stage> copy = new ArrayList<>(stages);
        return new Tensors() {
            @Override
            public TensorSpec input(String signature, String name) {
                Manifest.Stage s = find(copy, signature);
                return s == null ? null : s.input(name);
            }

            @Override
            public TensorSpec output(String signature, String name) {
                Manifest.Stage s = find(copy, signature);
                return s == null ? null : s.output(name);
            }
        };
    }

    private static Manifest.Stage find(List<Manifest.Stage> stages, String signature) {
        for (Manifest.Stage s : stages) {
            if (s.signature.equals(signature)) {
                return s;
            }
        }
        return null;
    }
}
