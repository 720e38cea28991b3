// Shared by the admission tests: the assertion of an AdmissionError code.
import { AdmissionError, type AdmissionErrorCode } from '../../src/admission/index.js';
import { assertThrowsCode } from '../_support/coded.js';

export const throws = (label: string, fn: () => unknown, code: AdmissionErrorCode): void => assertThrowsCode(AdmissionError, label, fn, code);
