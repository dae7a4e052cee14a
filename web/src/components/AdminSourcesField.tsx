import { FormGroup, Radio, Stack } from '@patternfly/react-core';
import { useTranslation } from 'react-i18next';
import { SourceListEditor } from './SourceListEditor';

/**
 * Who may use the admin console and the admin REST API of an instance: every trusted source (`null`, the default)
 * or only the listed ones (an empty list: nobody). Used by the order wizard and the instance page.
 */
export function AdminSourcesField(props: {
  idPrefix: string;
  value: string[] | null;
  onChange: (value: string[] | null) => void;
  /** Per row: the (localized) problem, or undefined. */
  errors: (string | undefined)[];
  listError?: string;
  sourceAddress?: string;
}) {
  const { t } = useTranslation();
  const { idPrefix, value, onChange } = props;
  return (
    <Stack hasGutter>
      <FormGroup role="radiogroup" isStack fieldId={`${idPrefix}mode-all`} label={t('adminSources.mode')}>
        <Radio
          id={`${idPrefix}mode-all`}
          name={`${idPrefix}mode`}
          label={t('adminSources.all')}
          isChecked={value === null}
          onChange={() => onChange(null)}
        />
        <Radio
          id={`${idPrefix}mode-some`}
          name={`${idPrefix}mode`}
          label={t('adminSources.some')}
          isChecked={value !== null}
          onChange={() => onChange(value ?? [])}
        />
      </FormGroup>
      {value !== null && (
        <SourceListEditor
          kind="admin"
          idPrefix={idPrefix}
          value={value}
          onChange={onChange}
          errors={props.errors}
          listError={props.listError}
          sourceAddress={props.sourceAddress}
        />
      )}
    </Stack>
  );
}
