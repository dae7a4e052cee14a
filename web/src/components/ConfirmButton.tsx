import { Button, Modal, ModalBody, ModalFooter, ModalHeader, type ButtonProps } from '@patternfly/react-core';
import { useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';

/** A button that asks first, in a PatternFly modal: for actions that cannot be taken back. */
export function ConfirmButton(props: {
  label: string;
  /** What the modal asks. */
  question: ReactNode;
  confirmLabel?: string;
  onConfirm: () => void;
  variant?: ButtonProps['variant'];
  isDanger?: boolean;
  size?: ButtonProps['size'];
  isDisabled?: boolean;
  isLoading?: boolean;
  'aria-label'?: string;
}) {
  const { t } = useTranslation();
  const [open, setOpen] = useState(false);
  return (
    <>
      <Button
        variant={props.variant ?? 'primary'}
        isDanger={props.isDanger}
        size={props.size}
        isDisabled={props.isDisabled}
        isLoading={props.isLoading}
        aria-label={props['aria-label']}
        onClick={() => setOpen(true)}
      >
        {props.label}
      </Button>
      <Modal isOpen={open} onClose={() => setOpen(false)} variant="small" aria-labelledby="confirm-title">
        <ModalHeader title={props.label} labelId="confirm-title" />
        <ModalBody>{props.question}</ModalBody>
        <ModalFooter>
          <Button
            variant={props.isDanger ? 'danger' : 'primary'}
            onClick={() => {
              setOpen(false);
              props.onConfirm();
            }}
          >
            {props.confirmLabel ?? t('provider.ops.confirm')}
          </Button>
          <Button variant="link" onClick={() => setOpen(false)}>
            {t('common.cancel')}
          </Button>
        </ModalFooter>
      </Modal>
    </>
  );
}
